"""round_trip: an own transfer ≥ 1 000 USD back to C of 95-105 % of a transfer from C,
within 1 h."""

import pytest

from operators.event import wallet_views
from operators.round_trip import RoundTrip
from tests.factories import (
    MINUTE,
    T0,
    detector_config,
    feed,
    fired_at,
    make_enriched,
    mirrored_view,
    own_view,
)

WINDOW = 60 * MINUTE
PARTNER = "w-partner"


def make(**overrides) -> tuple[RoundTrip, dict]:
    detector = RoundTrip(detector_config("round_trip", **overrides))
    return detector, detector.new_state()


def received(ts: int, usd: float, sender: str = PARTNER):
    return mirrored_view(ts=ts, usd=usd, sender=sender)


def sent(ts: int, usd: float, to: str = PARTNER, tx_type: str = "transfer"):
    return own_view(tx_type, ts=ts, usd=usd, counterparty=to)


def test_round_trip_flags_transfer_back_to_sender_within_window():
    detector, state = make()
    views = [received(T0, 5_000.0), sent(T0 + 20 * MINUTE, 4_900.0)]

    results = feed(detector, state, views)

    assert fired_at(results) == [1]
    assert (results[1].rule_id, results[1].severity) == ("round_trip", "high")
    assert "sent 4,900 USD back to the sender of a 5,000 USD transfer (98%) 20 min later" in (
        results[1].reason
    )


@pytest.mark.parametrize(
    ("returned", "fires"),
    [(4_750.0, True), (5_250.0, True), (4_749.0, False), (5_251.0, False)],
)
def test_round_trip_amount_band_is_5_percent_either_side(returned, fires):
    detector, state = make()
    views = [received(T0, 5_000.0), sent(T0 + MINUTE, returned)]

    assert fired_at(feed(detector, state, views)) == ([1] if fires else [])


def test_round_trip_silent_when_return_is_just_below_minimum():
    detector, state = make()
    views = [received(T0, 1_000.0), sent(T0 + MINUTE, 999.99)]

    assert fired_at(feed(detector, state, views)) == []


def test_round_trip_flags_return_exactly_at_minimum_of_a_slightly_smaller_inbound():
    detector, state = make()
    views = [received(T0, 960.0), sent(T0 + MINUTE, 1_000.0)]

    assert fired_at(feed(detector, state, views)) == [1]


def test_round_trip_silent_when_sent_to_a_different_counterparty():
    detector, state = make()
    views = [received(T0, 5_000.0), sent(T0 + MINUTE, 5_000.0, to="w-someone-else")]

    assert fired_at(feed(detector, state, views)) == []


def test_round_trip_silent_when_funds_leave_by_withdrawal():
    detector, state = make()
    views = [received(T0, 5_000.0), sent(T0 + MINUTE, 5_000.0, tx_type="withdrawal")]

    assert fired_at(feed(detector, state, views)) == []


def test_round_trip_silent_when_return_is_just_outside_window():
    detector, state = make()
    views = [received(T0, 5_000.0), sent(T0 + WINDOW + 1, 5_000.0)]

    assert fired_at(feed(detector, state, views)) == []


def test_round_trip_flags_return_exactly_window_after_inbound():
    detector, state = make()
    views = [received(T0, 5_000.0), sent(T0 + WINDOW, 5_000.0)]

    assert fired_at(feed(detector, state, views)) == [1]


def test_round_trip_flags_every_repetition_of_a_ping_pong():
    detector, state = make()
    views = []
    for i in range(3):
        start = T0 + i * 30 * MINUTE
        views += [received(start, 5_000.0), sent(start + 10 * MINUTE, 4_950.0)]

    assert fired_at(feed(detector, state, views)) == [1, 3, 5]


def test_round_trip_detected_by_receiver_never_by_first_sender():
    """A sends to B, B sends it back: the hit lands on B's own transfer, not on A."""
    a, b = "w-a", "w-b"
    detector = RoundTrip(detector_config("round_trip"))
    states = {a: detector.new_state(), b: detector.new_state()}
    first = make_enriched(ts=T0, tx_type="transfer", wallet=a, counterparty=b, usd=5_000.0)
    back = make_enriched(ts=T0 + 5 * MINUTE, tx_type="transfer", wallet=b, counterparty=a, usd=5e3)

    raised = [
        (view.wallet_id, view.mirrored)
        for event in (first, back)
        for view in wallet_views(event)
        if detector.on_event(states[view.wallet_id], view) is not None
    ]

    assert raised == [(b, False)]


def test_round_trip_never_fires_on_mirrored_views():
    detector, state = make()
    views = [received(T0 + i * MINUTE, 5_000.0, sender=f"w-{i % 2}") for i in range(10)]

    assert fired_at(feed(detector, state, views)) == []


def test_round_trip_silent_when_return_precedes_inbound_in_event_time():
    detector, state = make()
    views = [received(T0 + 10 * MINUTE, 5_000.0), sent(T0 + 5 * MINUTE, 5_000.0)]

    assert fired_at(feed(detector, state, views)) == []


def test_round_trip_matches_late_inbound_inside_window():
    detector, state = make()
    views = [
        own_view(ts=T0 + 30 * MINUTE),
        received(T0, 5_000.0),  # arrives late, still inside the window
        sent(T0 + 31 * MINUTE, 5_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == [2]


def test_round_trip_state_stays_bounded_on_10k_events():
    detector, state = make()
    max_entries = detector_config("round_trip").max_entries

    for i in range(10_000):
        detector.on_event(state, received(T0 + i * 100, 5_000.0, sender=f"w-{i}"))

    assert len(state["inbounds"]) == max_entries
    senders = [sender for _, sender, _ in state["inbounds"]]
    assert senders == [f"w-{i}" for i in range(10_000 - max_entries, 10_000)]  # oldest dropped
