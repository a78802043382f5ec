"""rapid_in_out: a large inbound withdrawn again within minutes (pass-through / mule wallet)."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass
from operator import itemgetter

from .event import DIRECTION_IN, Hit, WalletEvent

_ts = itemgetter(0)


@dataclass(frozen=True, slots=True)
class RapidInOutConfig:
    """`[detectors.rapid_in_out]` of flink-conf/pipeline.toml."""

    enabled: bool
    min_deposit_usd: float  # smallest inbound worth remembering, USD
    min_out_ratio: float  # withdrawal / inbound amount that counts as draining it
    window_ms: int  # max event time from inbound to withdrawal, ms
    max_entries: int  # cap on remembered inbounds per wallet


class RapidInOut:
    """An inbound (own deposit or mirrored transfer) ≥ `min_deposit_usd` followed, within
    `window_ms` of event time, by an own withdrawal ≥ `min_out_ratio` × that inbound.

    State: ``{"newest_ts": ms, "inbounds": [(ms, usd), ...]}``: the newest event time seen
    and the large inbounds inside the window, ascending by time.

    Choices where the table is silent:
    - only `withdrawal`s drain (the table says "own withdrawal"); an outgoing internal
      transfer keeps the funds on the platform, where other detectors see them;
    - "followed by" is event time: a withdrawal earlier than the inbound never matches it,
      and the hit is raised on the withdrawal (an inbound arriving late is not matched
      against withdrawals already processed);
    - a withdrawal matches the largest qualifying inbound, which it then consumes, so one
      inbound raises at most one hit.
    """

    rule_id = "rapid_in_out"
    severity = "high"

    __slots__ = ("max_entries", "min_deposit_usd", "min_out_ratio", "window_ms")

    def __init__(self, config: RapidInOutConfig) -> None:
        self.min_deposit_usd = config.min_deposit_usd
        self.min_out_ratio = config.min_out_ratio
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
        if ts < cutoff:
            return None

        usd = view.usd
        if view.direction == DIRECTION_IN:
            if usd >= self.min_deposit_usd and usd > 0:  # > 0: the withdrawal is a ratio of it
                self._remember(inbounds, (ts, usd))
            return None
        if view.mirrored or view.tx_type != "withdrawal" or not inbounds:
            return None

        # Pruning keeps inbounds at most window_ms before the newest event, so at most
        # window_ms before this withdrawal too: left to check is "not after the withdrawal".
        best = -1
        for i, (in_ts, in_usd) in enumerate(inbounds):
            if (
                in_ts <= ts
                and usd >= self.min_out_ratio * in_usd
                and (best < 0 or in_usd > inbounds[best][1])
            ):
                best = i
        if best < 0:
            return None
        in_ts, in_usd = inbounds.pop(best)
        return Hit(
            self.rule_id,
            self.severity,
            f"withdrew {usd:,.0f} USD ({usd / in_usd:.0%}) of a {in_usd:,.0f} USD inbound "
            f"{(ts - in_ts) / 60_000:.0f} min later (window {self.window_ms / 60_000:g} min)",
        )

    def _remember(self, inbounds: list, entry: tuple) -> None:
        if not inbounds or entry[0] >= inbounds[-1][0]:
            inbounds.append(entry)
        else:  # out of order, but inside the window
            insort(inbounds, entry, key=_ts)
        if len(inbounds) > self.max_entries:
            del inbounds[: len(inbounds) - self.max_entries]
