"""WalletRisk.process: one raw record under one wallet's key → Scored, Rejection, Duplicate
or nothing (a mirrored copy), deduplicated on tx_id within the wallet's keyed state."""

from __future__ import annotations

import copy

import pytest

from datasets.generator import SAMPLE_TRANSACTIONS
from models.features import N_FEATURES
from operators.event import DIRECTION_IN, DIRECTION_OUT
from operators.validate import (
    BAD_AMOUNT,
    DUPLICATE_CONFLICT,
    MISSING_FIELD,
    TOO_LATE_EVENT,
    Rejection,
)
from operators.wallet_risk import Duplicate, Scored, new_wallet_state
from pipeline.offline import iter_records, record_keys
from tests.factories import RAW_EVENT_MS, components, record

NOW = RAW_EVENT_MS + 86_400_000
FORMATS = ("csv", "jsonl")
SENDER, RECEIVER = "w_000000", "w_000001"
MINUTE = 60_000


class Wallet:
    """One wallet's keyed state, as the Flink function holds it."""

    def __init__(self, fmt: str = "csv") -> None:
        self.engine = components(fmt).wallet_risk
        self.state = new_wallet_state()

    def process(self, raw: str, mirrored: bool = False):
        return self.engine.process(self.state, raw, mirrored, NOW)

    @property
    def history(self) -> list:
        return self.state["features"]["history"]


def transfer(fmt: str = "csv", **fields) -> str:
    base = dict(
        tx_type="transfer",
        wallet_id=SENDER,
        counterparty_wallet=RECEIVER,
        asset="USDT",
        chain=None,
        tx_hash=None,
    )
    return record(fmt, **{**base, **fields})


# ---------------------------------------------------------------- new, duplicate, conflict


@pytest.mark.parametrize("fmt", FORMATS)
def test_new_valid_record_is_scored_from_its_own_wallets_view(fmt):
    wallet = Wallet(fmt)

    out = wallet.process(record(fmt))

    assert isinstance(out, Scored)
    assert (out.view.wallet_id, out.view.direction, out.view.mirrored) == (
        "w_000000",
        DIRECTION_OUT,
        False,
    )
    assert len(out.features) == N_FEATURES
    assert out.hits == []
    assert len(wallet.history) == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_exact_resend_is_a_duplicate_and_leaves_state_alone(fmt):
    wallet = Wallet(fmt)
    wallet.process(record(fmt))
    before = copy.deepcopy(wallet.state)

    out = wallet.process(record(fmt))

    assert out == Duplicate("tx_00000000000000a1", "w_000000")
    assert wallet.state == before


def test_same_content_in_another_spelling_is_a_duplicate():
    wallet = Wallet("csv")
    wallet.process(record("csv", amount="1.50"))

    same = record("csv", amount="1.5", event_time=str(RAW_EVENT_MS))

    assert isinstance(wallet.process(same), Duplicate)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "change",
    [
        {"amount": 1.6},
        {"event_time": RAW_EVENT_MS + 1},
        {"counterparty_wallet": "0x2222222222222222222222222222222222222222"},
        {"ip": "37.3.1.11"},
        {"amount_usd": 4200.0},
        {"device_id": None},
    ],
    ids=["amount", "event_time", "counterparty", "ip", "amount_usd", "device_id"],
)
def test_same_tx_id_with_other_content_is_a_duplicate_conflict(fmt, change):
    wallet = Wallet(fmt)
    wallet.process(record(fmt))
    before = copy.deepcopy(wallet.state)

    out = wallet.process(record(fmt, **change))

    assert isinstance(out, Rejection)
    assert out.reason == DUPLICATE_CONFLICT
    assert "tx_00000000000000a1" in out.detail
    assert wallet.state == before


def test_a_conflict_does_not_replace_the_remembered_content():
    wallet = Wallet()
    wallet.process(record("csv"))
    wallet.process(record("csv", amount=9.0))

    assert isinstance(wallet.process(record("csv")), Duplicate)
    assert wallet.process(record("csv", amount=9.0)).reason == DUPLICATE_CONFLICT


def test_rejected_records_are_not_remembered():
    wallet = Wallet()
    assert wallet.process(record("csv", amount=0)).reason == BAD_AMOUNT

    assert isinstance(wallet.process(record("csv")), Scored)
    assert wallet.process(record("csv", amount=0)).reason == BAD_AMOUNT


def test_other_tx_ids_are_new():
    wallet = Wallet()

    outs = [wallet.process(record("csv", tx_id=f"tx_{i}")) for i in range(3)]

    assert all(isinstance(o, Scored) for o in outs)
    assert len(wallet.history) == 3


# ---------------------------------------------------------------- mirrored copies


@pytest.mark.parametrize("fmt", FORMATS)
def test_mirrored_copy_never_produces_output_but_updates_the_receivers_state(fmt):
    receiver = Wallet(fmt)

    assert receiver.process(transfer(fmt), mirrored=True) is None

    assert len(receiver.history) == 1
    ts, direction_code, usd, counterparty, own = receiver.history[0]
    assert (ts, direction_code, counterparty, own) == (RAW_EVENT_MS, 1, SENDER, False)
    assert usd == pytest.approx(1.5, rel=0.01)  # 1.5 USDT


@pytest.mark.parametrize("fmt", FORMATS)
def test_repeated_or_conflicting_mirrored_copy_is_ignored(fmt):
    receiver = Wallet(fmt)
    receiver.process(transfer(fmt), mirrored=True)
    before = copy.deepcopy(receiver.state)

    assert receiver.process(transfer(fmt), mirrored=True) is None
    assert receiver.process(transfer(fmt, amount=99.0), mirrored=True) is None
    assert receiver.state == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_mirrored_copy_is_ignored_and_its_sender_copy_reports_it(fmt):
    raw = transfer(fmt, amount=None)
    sender, receiver = Wallet(fmt), Wallet(fmt)

    assert receiver.process(raw, mirrored=True) is None
    out = sender.process(raw)

    assert isinstance(out, Rejection) and out.reason == MISSING_FIELD
    assert receiver.state == new_wallet_state()


def test_mirrored_and_own_copies_are_deduplicated_separately():
    # one store sees the mirrored copy of a transfer first, then a record of the same
    # tx_id as its own: neither makes the other a duplicate
    wallet = Wallet()
    raw = transfer()

    assert wallet.process(raw, mirrored=True) is None
    assert isinstance(wallet.process(raw), Scored)
    assert isinstance(wallet.process(raw), Duplicate)
    assert wallet.process(raw, mirrored=True) is None
    assert len(wallet.history) == 2


def test_mirrored_inbound_feeds_the_receivers_detectors():
    # receiver gets 6 000 USD by internal transfer, then withdraws 5 500 within 30 min
    receiver = Wallet()
    inbound = transfer(tx_id="tx_in", amount=6000, amount_usd=6000.0)
    withdrawal = record(
        "csv",
        tx_id="tx_out",
        wallet_id=RECEIVER,
        asset="USDT",
        amount=5500,
        amount_usd=5500.0,
        event_time=str(RAW_EVENT_MS + 10 * MINUTE),
    )

    assert receiver.process(inbound, mirrored=True) is None
    out = receiver.process(withdrawal)

    assert isinstance(out, Scored)
    assert [h.rule_id for h in out.hits] == ["rapid_in_out"]


def test_without_the_mirrored_inbound_the_same_withdrawal_is_clean():
    receiver = Wallet()
    withdrawal = record("csv", wallet_id=RECEIVER, asset="USDT", amount=5500, amount_usd=5500.0)

    assert receiver.process(withdrawal).hits == []


def test_own_view_of_a_transfer_is_outgoing_and_mirrored_view_incoming():
    sender, receiver = Wallet(), Wallet()
    raw = transfer()

    out = sender.process(raw)
    receiver.process(raw, mirrored=True)

    assert out.view.direction == DIRECTION_OUT and out.view.counterparty == RECEIVER
    assert receiver.history[0][1] == 1  # in
    assert DIRECTION_IN == "in"


def test_in_the_sample_every_mirrored_copy_gives_no_output_yet_reaches_the_receiver():
    # the whole sample in file order, as the job keys it: mirrored outcomes must all be None
    engine = components().wallet_risk
    states: dict[str, dict] = {}
    mirrored_outcomes, own_outcomes = [], []
    for raw in iter_records(SAMPLE_TRANSACTIONS):
        raw = raw.rstrip("\n")
        for key, mirrored in record_keys(raw, "csv"):
            state = states.setdefault(key, new_wallet_state())
            out = engine.process(state, raw, mirrored, NOW)
            (mirrored_outcomes if mirrored else own_outcomes).append(out)

    inbound_views = sum(1 for st in states.values() for h in st["features"]["history"] if not h[4])
    assert len(mirrored_outcomes) > 1000
    assert set(mirrored_outcomes) == {None}
    assert inbound_views > 0
    assert None not in own_outcomes


# ---------------------------------------------------------------- late and out-of-order data

LATENESS_MS = components().cfg.validation.allowed_lateness_ms


def _deposits(n: int, step_ms: int = 10 * MINUTE) -> list[str]:
    """`n` deposits just under the structuring threshold, `step_ms` apart (event time)."""
    return [
        record(
            "jsonl",
            tx_id=f"tx_late_{i}",
            event_time=RAW_EVENT_MS + i * step_ms,
            tx_type="deposit",
            asset="USDT",
            amount=9_500.0,
            counterparty_wallet="0x2222222222222222222222222222222222222222",
        )
        for i in range(n)
    ]


def _rule_ids(outcomes) -> list[str]:
    return sorted(h.rule_id for o in outcomes if isinstance(o, Scored) for h in o.hits)


def test_out_of_order_events_within_the_lateness_are_processed_with_the_same_alerts():
    in_order = _deposits(3)
    shuffled = [in_order[2], in_order[0], in_order[1]]

    wallet_a, wallet_b = Wallet("jsonl"), Wallet("jsonl")
    got_in_order = [wallet_a.process(r) for r in in_order]
    got_shuffled = [wallet_b.process(r) for r in shuffled]

    assert all(isinstance(o, Scored) for o in got_in_order + got_shuffled)
    assert _rule_ids(got_in_order) == _rule_ids(got_shuffled) == ["structuring"]


def test_a_new_event_later_than_the_allowed_lateness_goes_to_the_dlq_as_too_late():
    wallet = Wallet("jsonl")
    newest = RAW_EVENT_MS + 2 * LATENESS_MS
    assert isinstance(wallet.process(record("jsonl", tx_id="tx_new", event_time=newest)), Scored)

    at_limit = wallet.process(record("jsonl", tx_id="tx_ok", event_time=newest - LATENESS_MS))
    too_late = wallet.process(record("jsonl", tx_id="tx_late", event_time=newest - LATENESS_MS - 1))

    assert isinstance(at_limit, Scored)
    assert isinstance(too_late, Rejection) and too_late.reason == TOO_LATE_EVENT
    assert "tx_late" not in wallet.state["dedupe"]["ids"]  # not remembered: a resend is late too


def test_an_exact_resend_of_an_old_event_is_a_duplicate_not_too_late():
    wallet = Wallet("jsonl")
    old = record("jsonl", tx_id="tx_old", event_time=RAW_EVENT_MS)
    wallet.process(old)
    wallet.process(record("jsonl", tx_id="tx_newer", event_time=RAW_EVENT_MS + 2 * LATENESS_MS))

    assert isinstance(wallet.process(old), Duplicate)


def test_a_too_late_mirrored_copy_is_ignored():
    wallet = Wallet("jsonl")
    wallet.process(record("jsonl", tx_id="tx_recv_new", event_time=RAW_EVENT_MS + 2 * LATENESS_MS))
    late = transfer("jsonl", tx_id="tx_in_late", wallet_id=SENDER, counterparty_wallet=RECEIVER)

    assert wallet.process(late, mirrored=True) is None
    assert "in:tx_in_late" not in wallet.state["dedupe"]["ids"]


def test_allowed_lateness_may_not_exceed_the_dedupe_window():
    from pipeline.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="allowed_lateness_ms"):
        load_config({"validation.allowed_lateness_ms": 86_400_001}, environ={})
    with pytest.raises(ConfigError, match="allowed_lateness_ms"):
        load_config({"validation.allowed_lateness_ms": -1}, environ={})
