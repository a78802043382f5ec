"""structuring: repeated transactions just below the reporting threshold (smurfing)."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass

from .event import Hit, WalletEvent

# Trades move value between assets of the same wallet: they are not reportable transfers.
_STRUCTURING_TYPES = frozenset(("deposit", "withdrawal", "transfer"))


@dataclass(frozen=True, slots=True)
class StructuringConfig:
    """`[detectors.structuring]` of flink-conf/pipeline.toml."""

    enabled: bool
    reporting_threshold_usd: float  # amounts from this value up are reported anyway
    band_low_ratio: float  # band starts at this fraction of the threshold
    window_ms: int  # event-time window, ms
    min_count: int  # in-band transactions within the window that make the pattern
    max_entries: int  # cap on remembered transactions per wallet


class Structuring:
    """At least `min_count` own deposits/withdrawals/transfers with `amount_usd` in
    [`band_low_ratio` × threshold, threshold) within `window_ms` of event time.

    State: ``{"newest_ts": ms, "times": [ms, ...]}``: the newest event time seen and the
    times of the in-band own transactions inside the window, ascending.

    A hit consumes the transactions that formed it (one alert per `min_count` structured
    transactions, not one per transaction past the threshold). Mirrored inbound transfers
    are not own transactions and are not counted: the sender's own view counts them.
    """

    rule_id = "structuring"
    severity = "high"

    __slots__ = ("band_low_usd", "max_entries", "min_count", "threshold_usd", "window_ms")

    def __init__(self, config: StructuringConfig) -> None:
        self.threshold_usd = config.reporting_threshold_usd
        self.band_low_usd = config.band_low_ratio * config.reporting_threshold_usd
        self.window_ms = config.window_ms
        self.min_count = config.min_count
        self.max_entries = config.max_entries

    def new_state(self) -> dict:
        return {"newest_ts": 0, "times": []}

    def on_event(self, state: dict, view: WalletEvent) -> Hit | None:
        ts = view.ts
        newest = state["newest_ts"]
        if ts > newest:
            state["newest_ts"] = newest = ts
        cutoff = newest - self.window_ms  # inclusive: ts == cutoff is inside
        times = state["times"]
        if times and times[0] < cutoff:
            del times[: bisect_left(times, cutoff)]
        if (
            view.mirrored
            or ts < cutoff
            or not self.band_low_usd <= view.usd < self.threshold_usd
            or view.tx_type not in _STRUCTURING_TYPES
        ):
            return None

        if not times or ts >= times[-1]:
            times.append(ts)
        else:  # out of order, but inside the window
            insort(times, ts)
        if len(times) > self.max_entries:
            del times[: len(times) - self.max_entries]
        if len(times) < self.min_count:
            return None

        count, span_ms = len(times), times[-1] - times[0]
        times.clear()
        return Hit(
            self.rule_id,
            self.severity,
            f"{count} transactions of {self.band_low_usd:,.0f}-{self.threshold_usd:,.0f} USD "
            f"within {span_ms / 3_600_000:.1f} h (threshold {self.min_count} within "
            f"{self.window_ms / 3_600_000:g} h)",
        )
