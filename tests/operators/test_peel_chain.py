"""peel_chain: an inbound ≥ 1 000 USD split within 6 h into a 70-98 % onward leg and a
1-20 % peel to two distinct counterparties."""

import pytest

from operators.peel_chain import PeelChain
from tests.factories import (
    HOUR,
    MINUTE,
    T0,
    detector_config,
    feed,
    fired_at,
    mirrored_view,
    own_view,
)

WINDOW = 6 * HOUR


def make(**overrides) -> tuple[PeelChain, dict]:
    detector = PeelChain(detector_config("peel_chain", **overrides))
    return detector, detector.new_state()


def peel(ts: int, usd: float, to: str = "0xcashout"):
    return own_view("withdrawal", ts=ts, usd=usd, counterparty=to)


def onward(ts: int, usd: float, to: str = "0xnext-hop"):
    return own_view("withdrawal", ts=ts, usd=usd, counterparty=to)


def test_peel_chain_flags_onward_leg_after_peel():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0, counterparty="0xprev-hop"),
        peel(T0 + 30 * MINUTE, 500.0),
        onward(T0 + 90 * MINUTE, 9_300.0),
    ]

    results = feed(detector, state, views)

    assert fired_at(results) == [2]
    assert (results[2].rule_id, results[2].severity) == ("peel_chain", "high")
    assert "10,000 USD inbound into 9,300 USD (93%) onward and 500 USD (5%) peel" in (
        results[2].reason
    )


def test_peel_chain_flags_peel_after_onward_leg():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        onward(T0 + 10 * MINUTE, 9_000.0),
        peel(T0 + 20 * MINUTE, 900.0),
    ]

    assert fired_at(feed(detector, state, views)) == [2]


def test_peel_chain_flags_split_of_mirrored_inbound_transfer_into_transfers():
    detector, state = make()
    views = [
        mirrored_view(ts=T0, usd=2_000.0),
        own_view("transfer", ts=T0 + MINUTE, usd=100.0, counterparty="w-a"),
        own_view("transfer", ts=T0 + 2 * MINUTE, usd=1_800.0, counterparty="w-b"),
    ]

    assert fired_at(feed(detector, state, views)) == [2]


@pytest.mark.parametrize(
    ("onward_usd", "peel_usd", "fires"),
    [
        (7_000.0, 100.0, True),  # both bands are inclusive
        (9_800.0, 2_000.0, True),
        (6_999.0, 500.0, False),  # onward just below 70 %
        (9_801.0, 100.0, False),  # onward just above 98 %
        (9_000.0, 99.0, False),  # peel just below 1 %
        (7_000.0, 2_001.0, False),  # peel just above 20 %
    ],
)
def test_peel_chain_ratio_bands(onward_usd, peel_usd, fires):
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        peel(T0 + MINUTE, peel_usd),
        onward(T0 + 2 * MINUTE, onward_usd),
    ]

    assert fired_at(feed(detector, state, views)) == ([2] if fires else [])


def test_peel_chain_silent_when_both_legs_go_to_same_counterparty():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        peel(T0 + MINUTE, 500.0, to="0xsame"),
        onward(T0 + 2 * MINUTE, 9_000.0, to="0xsame"),
    ]

    assert fired_at(feed(detector, state, views)) == []


def test_peel_chain_finds_distinct_counterparty_among_several_peels():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        peel(T0 + MINUTE, 500.0, to="0xa"),
        peel(T0 + 2 * MINUTE, 500.0, to="0xa"),
        peel(T0 + 3 * MINUTE, 500.0, to="0xb"),
        onward(T0 + 4 * MINUTE, 8_000.0, to="0xa"),
    ]

    assert fired_at(feed(detector, state, views)) == [4]


def test_peel_chain_silent_when_inbound_is_just_below_minimum():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=999.99),
        peel(T0 + MINUTE, 50.0),
        onward(T0 + 2 * MINUTE, 900.0),
    ]

    assert fired_at(feed(detector, state, views)) == []


def test_peel_chain_silent_when_second_leg_is_just_outside_window():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        peel(T0 + MINUTE, 500.0),
        onward(T0 + WINDOW + 1, 9_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == []


def test_peel_chain_flags_second_leg_exactly_window_after_inbound():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        peel(T0 + MINUTE, 500.0),
        onward(T0 + WINDOW, 9_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == [2]


def test_peel_chain_ignores_legs_earlier_than_the_inbound():
    detector, state = make()
    views = [
        own_view("trade", ts=T0 + HOUR),
        own_view("deposit", ts=T0 + HOUR, usd=10_000.0),
        peel(T0 + 10 * MINUTE, 500.0),  # late, and before the inbound
        onward(T0 + 2 * HOUR, 9_000.0),
    ]

    assert fired_at(feed(detector, state, views)) == []


def test_peel_chain_accepts_late_leg_after_the_inbound():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        onward(T0 + 2 * HOUR, 9_000.0),
        peel(T0 + HOUR, 500.0),  # late, but after the inbound and inside the window
    ]

    assert fired_at(feed(detector, state, views)) == [2]


def test_peel_chain_consumes_the_inbound():
    detector, state = make()
    views = [
        own_view("deposit", ts=T0, usd=10_000.0),
        peel(T0 + MINUTE, 500.0),
        onward(T0 + 2 * MINUTE, 9_000.0),
        onward(T0 + 3 * MINUTE, 9_000.0, to="0xother-hop"),
    ]

    assert fired_at(feed(detector, state, views)) == [2]
    assert state["inbounds"] == []


def test_peel_chain_never_fires_on_mirrored_views():
    detector, state = make()
    amounts = (10_000.0, 500.0, 9_300.0, 2_000.0, 100.0, 1_800.0)
    views = [
        mirrored_view(ts=T0 + i * MINUTE, usd=usd, sender=f"w-{i}") for i, usd in enumerate(amounts)
    ]

    assert fired_at(feed(detector, state, views)) == []


def test_peel_chain_state_stays_bounded_on_10k_events():
    detector, state = make()
    max_entries = detector_config("peel_chain").max_entries

    for i in range(10_000):
        ts = T0 + i * 1_000
        detector.on_event(state, own_view("deposit", ts=ts, usd=10_000.0))
        detector.on_event(state, peel(ts, 500.0, to=f"0xpeel-{i}"))  # never an onward leg

    assert len(state["inbounds"]) == max_entries
    assert all(len(peels) <= 2 and onwards == [] for _, _, peels, onwards in state["inbounds"])
