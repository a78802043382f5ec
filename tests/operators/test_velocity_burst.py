"""velocity_burst: ≥ 10 own events within 5 min (event time)."""

from operators.velocity_burst import VelocityBurst
from tests.factories import (
    MINUTE,
    SECOND,
    T0,
    detector_config,
    feed,
    fired_at,
    mirrored_view,
    own_view,
)

WINDOW = 5 * MINUTE


def make(**overrides) -> tuple[VelocityBurst, dict]:
    detector = VelocityBurst(detector_config("velocity_burst", **overrides))
    return detector, detector.new_state()


def burst(count: int, start: int = T0, step: int = 20 * SECOND) -> list:
    """`count` own events of mixed types, `step` ms apart."""
    types = ("trade", "transfer", "withdrawal", "deposit")
    return [own_view(types[i % 4], ts=start + i * step) for i in range(count)]


def test_velocity_burst_flags_tenth_own_event_within_window():
    detector, state = make()

    results = feed(detector, state, burst(10))

    assert fired_at(results) == [9]
    hit = results[9]
    assert (hit.rule_id, hit.severity) == ("velocity_burst", "medium")
    assert "10 own events within 180 s" in hit.reason


def test_velocity_burst_flags_events_exactly_window_apart():
    detector, state = make()

    results = feed(detector, state, burst(10, step=WINDOW // 9))

    assert fired_at(results) == [9]


def test_velocity_burst_silent_on_nine_events():
    detector, state = make()

    assert fired_at(feed(detector, state, burst(9))) == []


def test_velocity_burst_silent_when_ten_events_span_just_over_window():
    detector, state = make()
    views = [*burst(9, step=30 * SECOND), own_view(ts=T0 + WINDOW + 1)]

    assert fired_at(feed(detector, state, views)) == []


def test_velocity_burst_raises_one_hit_per_ten_events_of_a_long_burst():
    detector, state = make()

    results = feed(detector, state, burst(25, step=5 * SECOND))

    assert fired_at(results) == [9, 19]


def test_velocity_burst_never_fires_on_mirrored_views():
    detector, state = make()
    views = [mirrored_view(ts=T0 + i * SECOND) for i in range(30)]

    assert fired_at(feed(detector, state, views)) == []
    assert state["times"] == []


def test_velocity_burst_does_not_count_mirrored_views_towards_own_burst():
    detector, state = make()
    views = [*burst(9), mirrored_view(ts=T0 + 200 * SECOND), own_view(ts=T0 + 210 * SECOND)]

    assert fired_at(feed(detector, state, views)) == [10]


def test_velocity_burst_counts_late_event_inside_window():
    detector, state = make()
    views = burst(9, start=T0 + MINUTE)
    views.append(own_view(ts=T0))  # late, but within 5 min of the newest event

    assert fired_at(feed(detector, state, views)) == [9]


def test_velocity_burst_late_event_does_not_move_window_back():
    detector, state = make()
    # 9 events at the start, then one 10 min later: the first nine leave the window.
    feed(detector, state, [*burst(9), own_view(ts=T0 + 10 * MINUTE)])
    late = [own_view(ts=T0 + 100 * SECOND + i) for i in range(8)]

    assert fired_at(feed(detector, state, late)) == []
    assert state["newest_ts"] == T0 + 10 * MINUTE
    assert state["times"] == [T0 + 10 * MINUTE]


def test_velocity_burst_state_stays_bounded_on_10k_events():
    detector, state = make(min_count=1_000_000)  # never fires, so nothing is consumed
    max_entries = detector_config("velocity_burst").max_entries

    for i in range(10_000):
        detector.on_event(state, own_view(ts=T0 + i * SECOND))

    assert len(state["times"]) == max_entries
    assert state["times"][-1] == T0 + 9_999 * SECOND
