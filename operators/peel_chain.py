"""peel_chain: an inbound split into a large onward hop and a small peel (laundering chain)."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass
from operator import itemgetter

from .event import DIRECTION_IN, DIRECTION_OUT, Hit, WalletEvent

_ts = itemgetter(0)


@dataclass(frozen=True, slots=True)
class PeelChainConfig:
    """`[detectors.peel_chain]` of flink-conf/pipeline.toml."""

    enabled: bool
    min_inbound_usd: float  # smallest inbound worth remembering, USD
    window_ms: int  # max event time from the inbound to both outgoing legs, ms
    onward_min_ratio: float  # onward leg / inbound amount, lower bound (inclusive)
    onward_max_ratio: float  # onward leg / inbound amount, upper bound (inclusive)
    peel_min_ratio: float  # peel leg / inbound amount, lower bound (inclusive)
    peel_max_ratio: float  # peel leg / inbound amount, upper bound (inclusive)
    max_entries: int  # cap on remembered inbounds per wallet


class PeelChain:
    """After an inbound (own deposit or mirrored transfer) of A ≥ `min_inbound_usd`, within
    `window_ms` of event time, own outgoing withdrawals/transfers to two distinct
    counterparties: one in [`onward_min_ratio`, `onward_max_ratio`] × A and one in
    [`peel_min_ratio`, `peel_max_ratio`] × A, in either order.

    State: ``{"newest_ts": ms, "inbounds": [[ms, usd, peels, onwards], ...]}``, ascending
    by time, where `peels` / `onwards` are the legs seen so far for that inbound as
    ``[(counterparty, usd), ...]``.

    Choices where the table is silent: the hit is raised on the leg that completes the
    pair and consumes the inbound; legs earlier than the inbound (event time) and outgoing
    transactions without a counterparty never count (distinctness cannot be shown).
    """

    rule_id = "peel_chain"
    severity = "high"

    __slots__ = (
        "max_entries",
        "min_inbound_usd",
        "onward_max_ratio",
        "onward_min_ratio",
        "peel_max_ratio",
        "peel_min_ratio",
        "window_ms",
    )

    def __init__(self, config: PeelChainConfig) -> None:
        self.min_inbound_usd = config.min_inbound_usd
        self.window_ms = config.window_ms
        self.onward_min_ratio = config.onward_min_ratio
        self.onward_max_ratio = config.onward_max_ratio
        self.peel_min_ratio = config.peel_min_ratio
        self.peel_max_ratio = config.peel_max_ratio
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

        direction = view.direction
        if direction == DIRECTION_IN:
            usd = view.usd
            if usd >= self.min_inbound_usd and usd > 0:  # > 0: legs are ratios of it
                self._remember(inbounds, [ts, usd, [], []])
            return None
        if direction != DIRECTION_OUT or view.mirrored or not inbounds:
            return None
        counterparty = view.counterparty
        if counterparty is None:
            return None

        usd = view.usd
        # Remembered inbounds are within window_ms of the newest event, hence of this leg.
        for i, (in_ts, in_usd, peels, onwards) in enumerate(inbounds):
            if in_ts > ts:
                continue
            ratio = usd / in_usd
            if self.onward_min_ratio <= ratio <= self.onward_max_ratio:
                peel_usd = _leg_to_other(peels, counterparty)
                if peel_usd is not None:
                    del inbounds[i]
                    return self._hit(in_ts, in_usd, usd, peel_usd, ts)
                _add_leg(onwards, counterparty, usd)
            if self.peel_min_ratio <= ratio <= self.peel_max_ratio:
                onward_usd = _leg_to_other(onwards, counterparty)
                if onward_usd is not None:
                    del inbounds[i]
                    return self._hit(in_ts, in_usd, onward_usd, usd, ts)
                _add_leg(peels, counterparty, usd)
        return None

    def _remember(self, inbounds: list, entry: list) -> None:
        if not inbounds or entry[0] >= inbounds[-1][0]:
            inbounds.append(entry)
        else:  # out of order, but inside the window
            insort(inbounds, entry, key=_ts)
        if len(inbounds) > self.max_entries:
            del inbounds[: len(inbounds) - self.max_entries]

    def _hit(self, in_ts: int, in_usd: float, onward_usd: float, peel_usd: float, ts: int) -> Hit:
        return Hit(
            self.rule_id,
            self.severity,
            f"split a {in_usd:,.0f} USD inbound into {onward_usd:,.0f} USD "
            f"({onward_usd / in_usd:.0%}) onward and {peel_usd:,.0f} USD "
            f"({peel_usd / in_usd:.0%}) peel to two counterparties within "
            f"{(ts - in_ts) / 3_600_000:.1f} h",
        )


def _leg_to_other(legs: list, counterparty: str) -> float | None:
    """USD of a remembered leg to a counterparty other than `counterparty`, or None."""
    for leg_counterparty, leg_usd in legs:
        if leg_counterparty != counterparty:
            return leg_usd
    return None


def _add_leg(legs: list, counterparty: str, usd: float) -> None:
    # Two legs to distinct counterparties are enough to answer "is there a leg to someone
    # other than X" for any X, so at most two are kept per inbound and band.
    if len(legs) < 2 and all(c != counterparty for c, _ in legs):
        legs.append((counterparty, usd))
