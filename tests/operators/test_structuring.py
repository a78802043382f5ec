"""structuring: ≥ 3 own deposits/withdrawals/transfers of [8 500, 10 000) USD within 24 h."""

import pytest

from operators.structuring import Structuring
from tests.factories import (
    HOUR,
    T0,
    detector_config,
    feed,
    fired_at,
    mirrored_view,
    own_view,
)

WINDOW = 24 * HOUR


def make(**overrides) -> tuple[Structuring, dict]:
    detector = Structuring(detector_config("structuring", **overrides))
    return detector, detector.new_state()


def test_structuring_flags_third_transaction_just_below_threshold_within_24h():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=9_000.0),
        own_view("withdrawal", ts=T0 + 5 * HOUR, usd=9_500.0),
        own_view("transfer", ts=T0 + 20 * HOUR, usd=9_950.0),
    ]

    results = feed(detector, state, views)

    assert fired_at(results) == [2]
    assert (results[2].rule_id, results[2].severity) == ("structuring", "high")
    assert "3 transactions of 8,500-10,000 USD within 20.0 h" in results[2].reason


def test_structuring_flags_third_transaction_exactly_24h_after_the_first():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=9_000.0),
        own_view("deposit", ts=T0 + HOUR, usd=9_000.0),
        own_view("deposit", ts=T0 + WINDOW, usd=9_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == [2]


def test_structuring_silent_on_two_transactions_in_band():
    detector, state = make()
    views = [own_view("deposit", ts=T0 + i * HOUR, usd=9_900.0) for i in range(2)]

    assert fired_at(feed(detector, state, views)) == []


def test_structuring_silent_when_third_transaction_is_just_outside_24h():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=9_000.0),
        own_view("deposit", ts=T0 + HOUR, usd=9_000.0),
        own_view("deposit", ts=T0 + WINDOW + 1, usd=9_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == []


@pytest.mark.parametrize(
    ("usd", "fires"),
    [(8_499.99, False), (8_500.0, True), (9_999.99, True), (10_000.0, False)],
)
def test_structuring_band_is_85_percent_inclusive_to_threshold_exclusive(usd, fires):
    detector, state = make()
    views = [own_view("deposit", ts=T0 + i * HOUR, usd=9_000.0) for i in range(2)]
    views.append(own_view("deposit", ts=T0 + 2 * HOUR, usd=usd))

    assert fired_at(feed(detector, state, views)) == ([2] if fires else [])


def test_structuring_ignores_trades_in_band():
    detector, state = make()
    views = [own_view("trade", ts=T0 + i * HOUR, usd=9_000.0) for i in range(5)]

    assert fired_at(feed(detector, state, views)) == []


def test_structuring_raises_one_hit_per_three_transactions():
    detector, state = make()
    views = [own_view("withdrawal", ts=T0 + i * HOUR, usd=9_200.0) for i in range(6)]

    assert fired_at(feed(detector, state, views)) == [2, 5]


def test_structuring_never_fires_on_mirrored_views():
    detector, state = make()
    views = [mirrored_view(ts=T0 + i * HOUR, usd=9_500.0) for i in range(6)]

    assert fired_at(feed(detector, state, views)) == []
    assert state["times"] == []


def test_structuring_counts_late_transaction_inside_window():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0 + 10 * HOUR, usd=9_000.0),
        own_view("deposit", ts=T0 + 12 * HOUR, usd=9_000.0),
        own_view("deposit", ts=T0, usd=9_000.0),  # late, 12 h before the newest
    ]

    assert fired_at(feed(detector, state, views)) == [2]


def test_structuring_ignores_late_transaction_outside_window_of_newest_event():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0 + 30 * HOUR, usd=9_000.0),
        own_view("trade", ts=T0 + 30 * HOUR, usd=50.0),
        own_view("deposit", ts=T0 + 31 * HOUR, usd=9_000.0),
        own_view("deposit", ts=T0, usd=9_000.0),  # 31 h older than the newest event
    ]

    assert fired_at(feed(detector, state, views)) == []
    assert state["times"] == [T0 + 30 * HOUR, T0 + 31 * HOUR]


def test_structuring_state_stays_bounded_on_10k_events():
    detector, state = make(min_count=1_000_000)
    max_entries = detector_config("structuring").max_entries

    for i in range(10_000):
        detector.on_event(state, own_view("deposit", ts=T0 + i * 1_000, usd=9_100.0))

    assert len(state["times"]) == max_entries
