"""fan_out_dusting: ≥ 20 distinct counterparties of own outgoing ≤ 10 USD within 1 h."""

import pytest

from operators.fan_out_dusting import FanOutDusting
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

WINDOW = 60 * MINUTE


def make(**overrides) -> tuple[FanOutDusting, dict]:
    detector = FanOutDusting(detector_config("fan_out_dusting", **overrides))
    return detector, detector.new_state()


def dust(i: int, ts: int | None = None, usd: float = 2.0, tx_type: str = "withdrawal"):
    """Dust to address number `i`, by default `i` minutes after T0."""
    ts = T0 + i * MINUTE if ts is None else ts
    return own_view(tx_type, ts=ts, usd=usd, counterparty=f"0xdust-{i}")


def test_fan_out_dusting_flags_twentieth_distinct_recipient_within_hour():
    detector, state = make()
    views = [
        dust(i, ts=T0 + i * 30 * SECOND, tx_type=("withdrawal", "transfer")[i % 2])
        for i in range(20)
    ]

    results = feed(detector, state, views)

    assert fired_at(results) == [19]
    assert (results[19].rule_id, results[19].severity) == ("fan_out_dusting", "medium")
    assert "20 distinct counterparties sent <= 10 USD within 10 min" in results[19].reason


def test_fan_out_dusting_silent_on_nineteen_distinct_recipients():
    detector, state = make()

    assert fired_at(feed(detector, state, [dust(i) for i in range(19)])) == []


def test_fan_out_dusting_does_not_count_a_repeated_recipient_twice():
    detector, state = make()
    views = [dust(i) for i in range(19)] + [dust(0, ts=T0 + 30 * MINUTE)]

    assert fired_at(feed(detector, state, views)) == []


@pytest.mark.parametrize(("usd", "fires"), [(10.0, True), (10.01, False)])
def test_fan_out_dusting_dust_limit_is_10_usd_inclusive(usd, fires):
    detector, state = make()
    views = [dust(i) for i in range(19)] + [dust(19, usd=usd)]

    assert fired_at(feed(detector, state, views)) == ([19] if fires else [])


def test_fan_out_dusting_silent_when_twentieth_recipient_is_just_outside_window():
    detector, state = make()
    views = [dust(i) for i in range(19)] + [dust(19, ts=T0 + WINDOW + 1)]

    assert fired_at(feed(detector, state, views)) == []


def test_fan_out_dusting_flags_twentieth_recipient_exactly_window_after_first():
    detector, state = make()
    views = [dust(i) for i in range(19)] + [dust(19, ts=T0 + WINDOW)]

    assert fired_at(feed(detector, state, views)) == [19]


def test_fan_out_dusting_ignores_inbound_dust():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0 + i * MINUTE, usd=1.0, counterparty=f"0x{i}") for i in range(30)
    ]

    assert fired_at(feed(detector, state, views)) == []


def test_fan_out_dusting_raises_one_hit_per_twenty_recipients():
    detector, state = make()
    views = [dust(i, ts=T0 + i * 20 * SECOND) for i in range(45)]

    assert fired_at(feed(detector, state, views)) == [19, 39]


def test_fan_out_dusting_never_fires_on_mirrored_views():
    detector, state = make()
    views = [mirrored_view(ts=T0 + i * SECOND, usd=1.0, sender=f"w-{i}") for i in range(40)]

    assert fired_at(feed(detector, state, views)) == []
    assert state["dust"] == []


def test_fan_out_dusting_counts_late_dust_inside_window():
    detector, state = make()
    views = [dust(i, ts=T0 + 10 * MINUTE + i) for i in range(1, 20)] + [dust(0, ts=T0)]

    assert fired_at(feed(detector, state, views)) == [19]


def test_fan_out_dusting_ignores_late_dust_outside_window_of_newest_event():
    detector, state = make()
    views = [dust(i, ts=T0 + 2 * WINDOW + i) for i in range(1, 20)] + [dust(0, ts=T0)]

    assert fired_at(feed(detector, state, views)) == []
    assert len(state["dust"]) == 19


def test_fan_out_dusting_state_stays_bounded_on_10k_events():
    detector, state = make(min_distinct_counterparties=1_000_000)
    max_entries = detector_config("fan_out_dusting").max_entries

    for i in range(10_000):
        detector.on_event(state, dust(i, ts=T0 + i * 100))

    assert len(state["dust"]) == max_entries
