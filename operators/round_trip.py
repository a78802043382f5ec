"""round_trip: funds sent back to the wallet they just came from (wash transfers)."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass
from operator import itemgetter

from .event import Hit, WalletEvent

_ts = itemgetter(0)


@dataclass(frozen=True, slots=True)
class RoundTripConfig:
    """`[detectors.round_trip]` of flink-conf/pipeline.toml."""

    enabled: bool
    min_usd: float  # smallest returning transfer that counts, USD
    max_amount_diff_ratio: float  # |returned / received - 1| allowed (inclusive)
    window_ms: int  # max event time from the inbound to its return, ms
    max_entries: int  # cap on remembered inbound transfers per wallet


class RoundTrip:
    """An own outgoing transfer to counterparty C of ≥ `min_usd` that returns, within
    `window_ms` of event time, an inbound mirrored transfer from C: its amount is within
    ±`max_amount_diff_ratio` of the inbound's.

    The receiver of the first leg detects the pattern when it sends the funds back, so the
    hit lands on an own transaction (the first sender only sees a mirrored view).

    State: ``{"newest_ts": ms, "inbounds": [(ms, sender, usd), ...]}``: the newest event
    time seen and the inbound internal transfers inside the window, ascending by time.

    Choices where the table is silent: only internal transfers count on both legs
    (deposits and withdrawals have external counterparties); the return must not be
    earlier than the inbound (event time); a return consumes the inbound it matches, so
    each repetition of a ping-pong raises its own hit.
    """

    rule_id = "round_trip"
    severity = "high"

    __slots__ = ("high_ratio", "low_ratio", "max_entries", "min_usd", "window_ms")

    def __init__(self, config: RoundTripConfig) -> None:
        self.min_usd = config.min_usd
        self.low_ratio = 1.0 - config.max_amount_diff_ratio
        self.high_ratio = 1.0 + config.max_amount_diff_ratio
        self.window_ms = config.window_ms
        self.max_entries = config.max_entries

    def new_state(self) -> dict:
        return {"newest_ts": 0, "inbounds": []}

    def on_event(self, state: dict, view: WalletEvent) -> Hit | None:
        ts = view.ts
        newest = state["newest_ts"]
        if ts > newest:
            state["newest_ts"] = newest = ts
        cutoff = newest - self.window_ms  # inclusive: ts == cutoff is inside
        inbounds = state["inbounds"]
        if inbounds and inbounds[0][0] < cutoff:
            del inbounds[: bisect_left(inbounds, cutoff, key=_ts)]
        if ts < cutoff or view.tx_type != "transfer":
            return None

        usd = view.usd
        if view.mirrored:
            # An inbound that no return ≥ min_usd could match is not worth keeping (nor one of
            # 0 USD, whatever min_usd says: the return is compared as a ratio of it).
            if usd * self.high_ratio >= self.min_usd and usd > 0:
                self._remember(inbounds, (ts, view.counterparty, usd))
            return None
        counterparty = view.counterparty
        if usd < self.min_usd or counterparty is None or not inbounds:
            return None

        # Remembered inbounds are within window_ms of the newest event, hence of this return.
        for i, (in_ts, sender, in_usd) in enumerate(inbounds):
            if (
                sender == counterparty
                and in_ts <= ts
                and self.low_ratio * in_usd <= usd <= self.high_ratio * in_usd
            ):
                del inbounds[i]
                return Hit(
                    self.rule_id,
                    self.severity,
                    f"sent {usd:,.0f} USD back to the sender of a {in_usd:,.0f} USD transfer "
                    f"({usd / in_usd:.0%}) {(ts - in_ts) / 60_000:.0f} min later",
                )
        return None

    def _remember(self, inbounds: list, entry: tuple) -> None:
        if not inbounds or entry[0] >= inbounds[-1][0]:
            inbounds.append(entry)
        else:  # out of order, but inside the window
            insort(inbounds, entry, key=_ts)
        if len(inbounds) > self.max_entries:
            del inbounds[: len(inbounds) - self.max_entries]
