"""geo_jump: consecutive own events too far apart for the time between them (account takeover)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from operator import itemgetter

from .event import Hit, WalletEvent
from .geo import haversine_km

_ts = itemgetter(0)
_MS_PER_HOUR = 3_600_000

# Located events remembered per wallet. One would do for events in time order; a few more
# let an event that arrives late still be compared with its predecessor in time.
HISTORY = 4


@dataclass(frozen=True, slots=True)
class GeoJumpConfig:
    """`[detectors.geo_jump]` of flink-conf/pipeline.toml."""

    enabled: bool
    min_distance_km: float  # jumps shorter than this never count (country centroids are coarse)
    max_speed_kmh: float  # implied speed above this is impossible travel


class GeoJump:
    """Two consecutive own located events ≥ `min_distance_km` apart with an implied speed
    above `max_speed_kmh` (events at the same millisecond: infinite speed).

    The location is the country centroid enrichment resolved (`geo_lat`/`geo_lon`); events
    without one are skipped. Mirrored views are ignored: their location is the sender's.

    State: ``{"recent": [(ms, lat, lon), ...]}``: the last `HISTORY` located own events,
    ascending by time. An event is compared with its predecessor in time among them; one
    older than all of them is dropped (its predecessor is unknown). Only the predecessor is
    checked, not the successor, so a late home event after a reported jump does not report
    the same jump again.
    """

    rule_id = "geo_jump"
    severity = "medium"

    __slots__ = ("max_speed_kmh", "min_distance_km")

    def __init__(self, config: GeoJumpConfig) -> None:
        self.min_distance_km = config.min_distance_km
        self.max_speed_kmh = config.max_speed_kmh

    def new_state(self) -> dict:
        return {"recent": []}

    def on_event(self, state: dict, view: WalletEvent) -> Hit | None:
        if view.mirrored:
            return None
        event = view.event
        lat, lon = event.geo_lat, event.geo_lon
        if lat is None or lon is None:
            return None

        ts = view.ts
        recent = state["recent"]
        entry = (ts, lat, lon)
        if not recent or ts >= recent[-1][0]:
            prev = recent[-1] if recent else None
            recent.append(entry)
        else:  # out of order: compare with its predecessor in time
            i = bisect_right(recent, ts, key=_ts)
            if i == 0:
                return None
            prev = recent[i - 1]
            recent.insert(i, entry)
        if len(recent) > HISTORY:
            del recent[0]
        if prev is None:
            return None

        prev_ts, prev_lat, prev_lon = prev
        if prev_lat == lat and prev_lon == lon:  # same country: the common case, no trig
            return None
        distance_km = haversine_km(prev_lat, prev_lon, lat, lon)
        elapsed_ms = ts - prev_ts
        # speed > max  <=>  distance > max × hours, without dividing by zero hours
        if distance_km < self.min_distance_km or (
            distance_km * _MS_PER_HOUR <= self.max_speed_kmh * elapsed_ms
        ):
            return None
        speed = f"{distance_km * _MS_PER_HOUR / elapsed_ms:,.0f} km/h" if elapsed_ms else "instant"
        return Hit(
            self.rule_id,
            self.severity,
            f"{distance_km:,.0f} km from the previous event {elapsed_ms / 60_000:.0f} min earlier "
            f"({speed}, max {self.max_speed_kmh:g} km/h)",
        )
