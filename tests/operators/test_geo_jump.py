"""geo_jump: consecutive own located events ≥ 500 km apart at an implied speed > 900 km/h."""

import math

import pytest

from operators.geo import EARTH_RADIUS_KM, haversine_km
from operators.geo_jump import HISTORY, GeoJump
from tests.factories import (
    BERLIN,
    HOUR,
    MINUTE,
    PARIS,
    SINGAPORE,
    T0,
    detector_config,
    feed,
    fired_at,
    mirrored_view,
    own_view,
)

KM_PER_DEGREE = 2 * math.pi * EARTH_RADIUS_KM / 360


def make(**overrides) -> tuple[GeoJump, dict]:
    detector = GeoJump(detector_config("geo_jump", **overrides))
    return detector, detector.new_state()


def at(place: tuple[float, float], ts: int):
    return own_view("trade", ts=ts, geo=place)


def east_of_null_island(km: float) -> tuple[float, float]:
    """A point on the equator `km` east of (0, 0)."""
    return (0.0, km / KM_PER_DEGREE)


def test_haversine_matches_known_distances():
    assert haversine_km(*BERLIN, *BERLIN) == 0.0
    assert haversine_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343.6, abs=0.1)
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert haversine_km(*east_of_null_island(0), *east_of_null_island(500)) == pytest.approx(500)


def test_geo_jump_flags_far_country_minutes_after_home():
    detector, state = make()
    views = [at(BERLIN, T0), at(BERLIN, T0 + HOUR), at(SINGAPORE, T0 + 90 * MINUTE)]

    results = feed(detector, state, views)

    assert fired_at(results) == [2]
    assert (results[2].rule_id, results[2].severity) == ("geo_jump", "medium")
    assert "10,125 km from the previous event 30 min earlier (20,251 km/h" in results[2].reason


def test_geo_jump_flags_two_far_countries_at_the_same_millisecond():
    detector, state = make()

    results = feed(detector, state, [at(BERLIN, T0), at(SINGAPORE, T0)])

    assert fired_at(results) == [1]
    assert "instant" in results[1].reason


@pytest.mark.parametrize(("extra_ms", "fires"), [(-1_000, True), (+1_000, False)])
def test_geo_jump_speed_limit_is_900_kmh(extra_ms, fires):
    detector, state = make()
    distance_km = haversine_km(*BERLIN, *SINGAPORE)
    at_limit_ms = round(distance_km / 900 * HOUR)
    views = [at(BERLIN, T0), at(SINGAPORE, T0 + at_limit_ms + extra_ms)]

    assert fired_at(feed(detector, state, views)) == ([1] if fires else [])


@pytest.mark.parametrize(("km", "fires"), [(499.0, False), (501.0, True)])
def test_geo_jump_needs_at_least_500_km_even_at_infinite_speed(km, fires):
    detector, state = make()
    views = [at(east_of_null_island(0), T0), at(east_of_null_island(km), T0)]

    assert fired_at(feed(detector, state, views)) == ([1] if fires else [])


def test_geo_jump_silent_when_neighbouring_country_is_reached_plausibly():
    detector, state = make()  # Berlin -> Paris centroids: ~ 816 km in 1 h = 816 km/h
    views = [at(BERLIN, T0), at(PARIS, T0 + HOUR)]

    assert fired_at(feed(detector, state, views)) == []


def test_geo_jump_silent_when_staying_in_one_country():
    detector, state = make()
    views = [at(BERLIN, T0 + i) for i in range(20)]

    assert fired_at(feed(detector, state, views)) == []


def test_geo_jump_skips_events_without_location():
    detector, state = make()
    views = [
        at(BERLIN, T0),
        own_view("trade", ts=T0 + 10 * MINUTE, geo=None),
        at(SINGAPORE, T0 + 20 * MINUTE),
    ]

    assert fired_at(feed(detector, state, views)) == [2]
    assert [ts for ts, _, _ in state["recent"]] == [T0, T0 + 20 * MINUTE]


def test_geo_jump_compares_late_event_with_its_predecessor_in_time():
    detector, state = make()
    views = [
        at(BERLIN, T0),
        at(BERLIN, T0 + 40 * MINUTE),
        at(SINGAPORE, T0 + 20 * MINUTE),  # late: its predecessor is the event at T0
    ]

    assert fired_at(feed(detector, state, views)) == [2]
    assert [ts for ts, _, _ in state["recent"]] == [T0, T0 + 20 * MINUTE, T0 + 40 * MINUTE]


def test_geo_jump_does_not_report_a_jump_again_for_a_late_home_event():
    detector, state = make()
    views = [
        at(BERLIN, T0),
        at(SINGAPORE, T0 + 20 * MINUTE),
        at(BERLIN, T0 + 10 * MINUTE),  # late; compared with T0 only
    ]

    assert fired_at(feed(detector, state, views)) == [1]


def test_geo_jump_drops_late_event_older_than_its_history():
    detector, state = make()
    feed(detector, state, [at(BERLIN, T0 + i * MINUTE) for i in range(1, HISTORY + 1)])

    assert detector.on_event(state, at(SINGAPORE, T0)) is None
    assert [ts for ts, _, _ in state["recent"]] == [T0 + i * MINUTE for i in range(1, HISTORY + 1)]


def test_geo_jump_never_fires_on_mirrored_views():
    detector, state = make()
    views = [
        at(BERLIN, T0),
        mirrored_view(ts=T0 + MINUTE, geo=SINGAPORE),  # the sender's location, not ours
        at(BERLIN, T0 + 2 * MINUTE),
    ]

    assert fired_at(feed(detector, state, views)) == []
    assert len(state["recent"]) == 2


def test_geo_jump_state_stays_bounded_on_10k_events():
    detector, state = make()
    places = (BERLIN, PARIS, SINGAPORE)

    for i in range(10_000):
        detector.on_event(state, at(places[i % 3], T0 + i * MINUTE))

    assert len(state["recent"]) == HISTORY
