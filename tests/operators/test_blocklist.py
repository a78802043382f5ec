"""blocklist: an own transaction with a blocklisted counterparty (sanctioned / mixer)."""

import pytest

from operators.blocklist import Blocklist
from tests.factories import MINUTE, T0, detector_config, mirrored_view, own_view


def make() -> tuple[Blocklist, object]:
    detector = Blocklist(detector_config("blocklist"))
    return detector, detector.new_state()


@pytest.mark.parametrize(
    ("tx_type", "category", "severity"),
    [("deposit", "sanctioned", "critical"), ("withdrawal", "mixer", "high")],
)
def test_blocklist_flags_counterparty_by_category(tx_type, category, severity):
    detector, state = make()
    view = own_view(tx_type, counterparty="0xbad", blocklist=category)

    hit = detector.on_event(state, view)

    assert (hit.rule_id, hit.severity) == ("blocklist", severity)
    assert hit.reason == f"counterparty 0xbad is on the blocklist ({category})"


def test_blocklist_treats_unknown_category_as_high():
    detector, state = make()

    assert detector.on_event(state, own_view("transfer", blocklist="scam")).severity == "high"


def test_blocklist_silent_on_counterparty_not_on_the_list():
    detector, state = make()

    assert detector.on_event(state, own_view("withdrawal", blocklist=None)) is None


def test_blocklist_never_fires_on_mirrored_views():
    detector, state = make()

    assert detector.on_event(state, mirrored_view(blocklist="sanctioned")) is None


def test_blocklist_fires_on_every_listed_transaction_in_any_time_order():
    detector, state = make()
    views = [own_view("withdrawal", ts=T0 - i * MINUTE, blocklist="mixer") for i in range(3)]

    assert [detector.on_event(state, view).severity for view in views] == ["high"] * 3


def test_blocklist_keeps_no_state_over_10k_events():
    detector, state = make()

    for i in range(10_000):
        detector.on_event(state, own_view("withdrawal", ts=T0 + i, blocklist="mixer"))

    assert state is None
