"""rapid_in_out: an inbound ≥ 5 000 USD, then an own withdrawal ≥ 80 % of it within 30 min."""

import pytest

from operators.rapid_in_out import RapidInOut
from tests.factories import (
    MINUTE,
    T0,
    detector_config,
    feed,
    fired_at,
    mirrored_view,
    own_view,
)

WINDOW = 30 * MINUTE


def make(**overrides) -> tuple[RapidInOut, dict]:
    detector = RapidInOut(detector_config("rapid_in_out", **overrides))
    return detector, detector.new_state()


def test_rapid_in_out_flags_withdrawal_within_window():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        own_view("trade", ts=T0 + 5 * MINUTE, usd=10_000.0),
        own_view("withdrawal", ts=T0 + 20 * MINUTE, usd=9_000.0),
    ]

    results = feed(detector, state, views)

    assert fired_at(results) == [2]
    assert (results[2].rule_id, results[2].severity) == ("rapid_in_out", "high")
    assert "withdrew 9,000 USD (90%) of a 10,000 USD inbound 20 min later" in results[2].reason


def test_rapid_in_out_flags_withdrawal_after_mirrored_inbound_transfer():
    detector, state = make()
    views = [
        mirrored_view(ts=T0, usd=6_000.0),
        own_view("withdrawal", ts=T0 + 2 * MINUTE, usd=5_500.0),
    ]

    assert fired_at(feed(detector, state, views)) == [1]


def test_rapid_in_out_flags_withdrawal_exactly_window_after_inbound():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        own_view("withdrawal", ts=T0 + WINDOW, usd=8_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == [1]


def test_rapid_in_out_silent_when_withdrawal_is_just_outside_window():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        own_view("withdrawal", ts=T0 + WINDOW + 1, usd=9_900.0),
    ]

    assert fired_at(feed(detector, state, views)) == []


@pytest.mark.parametrize(("deposit", "withdrawal"), [(4_999.99, 4_999.99), (10_000.0, 7_999.99)])
def test_rapid_in_out_silent_when_deposit_or_ratio_is_just_below_threshold(deposit, withdrawal):
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=deposit),
        own_view("withdrawal", ts=T0 + MINUTE, usd=withdrawal),
    ]

    assert fired_at(feed(detector, state, views)) == []


def test_rapid_in_out_silent_when_funds_leave_by_internal_transfer():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        own_view("transfer", ts=T0 + MINUTE, usd=9_500.0),
    ]

    assert fired_at(feed(detector, state, views)) == []


def test_rapid_in_out_silent_when_withdrawal_precedes_inbound_in_event_time():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0 + 10 * MINUTE, usd=10_000.0),
        own_view("withdrawal", ts=T0 + 5 * MINUTE, usd=9_500.0),  # late, and earlier
    ]

    assert fired_at(feed(detector, state, views)) == []


def test_rapid_in_out_matches_late_inbound_inside_window():
    detector, state = make()
    views = [
        own_view("trade", ts=T0 + 10 * MINUTE),
        own_view("deposit", ts=T0, usd=10_000.0),  # arrives late, still inside the window
        own_view("withdrawal", ts=T0 + 12 * MINUTE, usd=9_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == [2]


def test_rapid_in_out_ignores_late_inbound_outside_window_of_newest_event():
    detector, state = make()
    views = [
        own_view("trade", ts=T0 + 40 * MINUTE),
        own_view("deposit", ts=T0, usd=10_000.0),  # 40 min older than the newest event
        own_view("withdrawal", ts=T0 + 20 * MINUTE, usd=9_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == []
    assert state["inbounds"] == []


def test_rapid_in_out_matches_each_inbound_once():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        own_view("withdrawal", ts=T0 + MINUTE, usd=9_000.0),
        own_view("withdrawal", ts=T0 + 2 * MINUTE, usd=9_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == [1]


def test_rapid_in_out_never_fires_on_mirrored_views():
    detector, state = make()
    views = [mirrored_view(ts=T0 + i * MINUTE, usd=10_000.0 - i) for i in range(10)]

    assert fired_at(feed(detector, state, views)) == []
    assert len(state["inbounds"]) == 10


def test_rapid_in_out_state_stays_bounded_on_10k_events():
    detector, state = make()
    max_entries = detector_config("rapid_in_out").max_entries

    for i in range(10_000):
        detector.on_event(state, own_view("deposit", ts=T0 + i * 100, usd=50_000.0))

    assert len(state["inbounds"]) == max_entries
