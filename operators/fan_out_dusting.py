"""fan_out_dusting: tiny amounts sent to many distinct addresses (dusting / address poisoning)."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass
from operator import itemgetter

from .event import DIRECTION_OUT, Hit, WalletEvent

_ts = itemgetter(0)


@dataclass(frozen=True, slots=True)
class FanOutDustingConfig:
    """`[detectors.fan_out_dusting]` of flink-conf/pipeline.toml."""

    enabled: bool
    max_dust_usd: float  # outgoing amounts up to this (inclusive) are dust, USD
    min_distinct_counterparties: int  # distinct dust recipients within the window
    window_ms: int  # event-time window, ms
    max_entries: int  # cap on remembered dust transactions per wallet


class FanOutDusting:
    """At least `min_distinct_counterparties` distinct counterparties of own outgoing
    withdrawals/transfers with `amount_usd` ≤ `max_dust_usd` within `window_ms` of event
    time.

    State: ``{"newest_ts": ms, "dust": [(ms, counterparty), ...]}``: the newest event time
    seen and the own dust transactions inside the window, ascending by time.

    A hit consumes the dust that formed it (one alert per `min_distinct_counterparties`
    recipients, not one per transaction past the threshold). Dust without a counterparty
    is ignored: it cannot be shown to go to a distinct address.
    """

    rule_id = "fan_out_dusting"
    severity = "medium"

    __slots__ = ("max_dust_usd", "max_entries", "min_distinct", "window_ms")

    def __init__(self, config: FanOutDustingConfig) -> None:
        self.max_dust_usd = config.max_dust_usd
        self.min_distinct = config.min_distinct_counterparties
        self.window_ms = config.window_ms
        self.max_entries = config.max_entries

    def new_state(self) -> dict:
        return {"newest_ts": 0, "dust": []}

    def on_event(self, state: dict, view: WalletEvent) -> Hit | None:
        ts = view.ts
        newest = state["newest_ts"]
        if ts > newest:
            state["newest_ts"] = newest = ts
        cutoff = newest - self.window_ms  # inclusive: ts == cutoff is inside
        dust = state["dust"]
        if dust and dust[0][0] < cutoff:
            del dust[: bisect_left(dust, cutoff, key=_ts)]
        if (
            view.mirrored
            or view.direction != DIRECTION_OUT
            or view.usd > self.max_dust_usd
            or ts < cutoff
        ):
            return None
        counterparty = view.counterparty
        if counterparty is None:
            return None

        entry = (ts, counterparty)
        if not dust or ts >= dust[-1][0]:
            dust.append(entry)
        else:  # out of order, but inside the window
            insort(dust, entry, key=_ts)
        if len(dust) > self.max_entries:
            del dust[: len(dust) - self.max_entries]
        if len(dust) < self.min_distinct:  # cheap bound before counting
            return None
        distinct = len({c for _, c in dust})
        if distinct < self.min_distinct:
            return None

        span_ms = dust[-1][0] - dust[0][0]
        dust.clear()
        return Hit(
            self.rule_id,
            self.severity,
            f"{distinct} distinct counterparties sent <= {self.max_dust_usd:g} USD within "
            f"{span_ms / 60_000:.0f} min (threshold {self.min_distinct} within "
            f"{self.window_ms / 60_000:g} min)",
        )
