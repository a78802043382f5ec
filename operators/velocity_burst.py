"""velocity_burst: many own events in a short event-time window (e.g. a bot draining a wallet)."""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass

from .event import Hit, WalletEvent


@dataclass(frozen=True, slots=True)
class VelocityBurstConfig:
    """`[detectors.velocity_burst]` of flink-conf/pipeline.toml."""

    enabled: bool
    window_ms: int  # event-time window, ms
    min_count: int  # own events within the window that make a burst
    max_entries: int  # cap on remembered event times per wallet


class VelocityBurst:
    """At least `min_count` own events (any tx type) within `window_ms` of event time.

    State: ``{"newest_ts": ms, "times": [ms, ...]}``: the newest event time seen and the
    times of the own events inside the window, ascending.

    A hit consumes the events that formed it, so a burst of 2 × `min_count` events raises
    two hits rather than one per event past the threshold (one alert per burst is what an
    analyst wants; the table only says a hit is raised on the completing transaction).
    Mirrored views are not own events: they move the clock but are not counted.
    """

    rule_id = "velocity_burst"
    severity = "medium"

    __slots__ = ("max_entries", "min_count", "window_ms")

    def __init__(self, config: VelocityBurstConfig) -> None:
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
        if view.mirrored or ts < cutoff:
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
            f"{count} own events within {span_ms / 1000:.0f} s "
            f"(threshold {self.min_count} within {self.window_ms / 1000:.0f} s)",
        )
