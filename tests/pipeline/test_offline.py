"""The offline replay: the job's per-record logic in file order, without Flink.

`record_keys` restates the job's key-extraction SQL (pipeline/job.py); the replay must
account for every record of the sample and give malformed ones their labelled DLQ reason.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest

from datasets.generator import SAMPLE_TRANSACTIONS, Config, generate
from operators.enrich import Enricher
from operators.event import EVENT_FIELDS, wallet_views
from operators.validate import EMPTY_RECORD, NOT_UTF8, Rejection, parse_record
from pipeline.components import Components
from pipeline.config import load_config
from pipeline.offline import iter_records, record_keys, replay
from tests.factories import components, csv_record, json_record, sample_labels, sample_replay

HEADER = ",".join(EVENT_FIELDS)
A, B = "w_000000", "w_000001"
NOW = 1_800_000_000_000  # 2027-01-15: every sample event is in the past


def sample_lines() -> list[str]:
    """The sample's data rows (header left out), without line endings."""
    return SAMPLE_TRANSACTIONS.read_text(encoding="utf-8").splitlines()[1:]


# ---------------------------------------------------------------- key extraction (CSV)


def test_csv_header_is_skipped():
    assert record_keys(HEADER + "\n", "csv") == []


def test_csv_record_is_keyed_by_its_wallet():
    for tx_type in ("trade", "deposit", "withdrawal"):
        assert record_keys(csv_record(tx_type=tx_type, wallet_id=A), "csv") == [(A, False)]


def test_csv_transfer_to_another_wallet_gets_a_mirrored_copy_for_the_receiver():
    raw = csv_record(tx_type="transfer", wallet_id=A, counterparty_wallet=B)

    assert record_keys(raw, "csv") == [(A, False), (B, True)]
    assert record_keys(raw + "\r\n", "csv") == [(A, False), (B, True)]


def test_csv_transfer_to_itself_or_to_nobody_has_no_mirrored_copy():
    assert record_keys(csv_record(tx_type="transfer", counterparty_wallet=A), "csv") == [(A, False)]
    assert record_keys(csv_record(tx_type="transfer", counterparty_wallet=None), "csv") == [
        (A, False)
    ]


def test_csv_withdrawal_to_a_wallet_id_is_not_mirrored():
    # only internal transfers are; peel-chain hops name wallets in deposits/withdrawals
    assert record_keys(csv_record(tx_type="withdrawal", counterparty_wallet=B), "csv") == [
        (A, False)
    ]


def test_csv_record_without_a_readable_wallet_gets_the_empty_key():
    assert record_keys("tx_1,2026-03-02T00:00:00Z,trade", "csv") == [("", False)]
    assert record_keys("garbage", "csv") == [("", False)]
    assert record_keys(csv_record(wallet_id=None), "csv") == [("", False)]


def test_csv_transfer_without_sender_is_still_mirrored_to_its_receiver():
    # SQL: SPLIT_INDEX(f0, ',', 4) <> COALESCE(SPLIT_INDEX(f0, ',', 3), '')
    raw = csv_record(tx_type="transfer", wallet_id=None, counterparty_wallet=B)

    assert record_keys(raw, "csv") == [("", False), (B, True)]


# ---------------------------------------------------------------- key extraction (JSON)


def test_json_transfer_to_another_wallet_gets_a_mirrored_copy():
    raw = json_record(tx_type="transfer", wallet_id=A, counterparty_wallet=B)

    assert record_keys(raw, "jsonl") == [(A, False), (B, True)]


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        (json_record(tx_type="withdrawal", counterparty_wallet=B), [(A, False)]),
        (json_record(tx_type="transfer", counterparty_wallet=A), [(A, False)]),
        (json_record(tx_type="transfer", counterparty_wallet=None), [(A, False)]),
        (json_record(tx_type="transfer", counterparty_wallet=""), [(A, False)]),
        (json_record(tx_type="transfer", counterparty_wallet={"id": B}), [(A, False)]),
        (json_record(wallet_id=...), [("", False)]),
        (json_record(wallet_id=None), [("", False)]),
        (json_record(wallet_id={"id": A}), [("", False)]),
        (json_record(wallet_id=["w"]), [("", False)]),
        (json_record(wallet_id=42), [("42", False)]),
        (json_record(wallet_id=True), [("true", False)]),
        ('{"wallet_id": "w_000000"', [("", False)]),
        ("[1, 2]", [("", False)]),
        ("", [("", False)]),
    ],
    ids=lambda v: None if isinstance(v, list) else v[:40],
)
def test_json_keys_follow_json_value_semantics(raw, keys):
    # JSON_VALUE: scalars as text, NULL for objects, arrays, null and unparseable text
    assert record_keys(raw, "jsonl") == keys


def test_json_transfer_without_sender_is_still_mirrored_to_its_receiver():
    raw = json_record(tx_type="transfer", wallet_id=..., counterparty_wallet=B)

    assert record_keys(raw, "jsonl") == [("", False), (B, True)]


def test_keys_of_every_valid_sample_record_are_its_wallet_views():
    # the key extraction reads raw text; the event model's views come from the parsed event
    validator, enricher = components().validator, Enricher(components().reference)
    views_seen = 0
    for raw in sample_lines():
        rec = parse_record(raw, "csv")
        tx = rec if isinstance(rec, Rejection) else validator.validate(rec, NOW, True)
        if isinstance(tx, Rejection):
            continue
        views = [(v.wallet_id, v.mirrored) for v in wallet_views(enricher.enrich(tx))]
        assert record_keys(raw, "csv") == views, raw
        views_seen += len(views)

    assert views_seen > len(sample_lines())  # transfers gave mirrored copies


# ---------------------------------------------------------------- the sample replayed


def test_replay_accounts_for_every_record_of_the_sample():
    result = sample_replay()
    labels = sample_labels()

    assert len(result.scored) + len(result.rejections) + len(result.duplicates) == len(labels)
    noise = Counter(label["noise"] for label in labels)
    assert len(result.rejections) == noise["malformed"] > 0
    assert len(result.duplicates) == noise["duplicate"] > 0
    assert len(result.scored) == len(labels) - noise["malformed"] - noise["duplicate"]


def test_every_valid_sample_transaction_is_scored_exactly_once_on_its_own_wallet():
    result = sample_replay()
    scored_ids = [s.view.event.tx.tx_id for s in result.scored]
    valid_ids = {label["tx_id"] for label in sample_labels() if label["noise"] != "malformed"}

    assert len(scored_ids) == len(set(scored_ids))
    assert set(scored_ids) == valid_ids
    assert all(
        not s.view.mirrored and s.view.wallet_id == s.view.event.tx.wallet_id for s in result.scored
    )


def test_duplicates_are_the_labelled_resends():
    result = sample_replay()
    labelled = Counter(
        (label["tx_id"], label["wallet_id"])
        for label in sample_labels()
        if label["noise"] == "duplicate"
    )

    assert Counter((d.tx_id, d.wallet_id) for d in result.duplicates) == labelled


def test_dlq_reasons_match_the_labels_record_by_record():
    lines = sample_lines()
    record_no = {}
    for no, line in enumerate(lines, start=1):
        record_no.setdefault(line, []).append(no)

    got = {}
    for raw, rejection in sample_replay().rejections:
        nos = record_no[raw]
        assert len(nos) == 1, f"malformed record repeated: {raw}"
        got[nos[0]] = rejection.reason
    expected = {
        int(label["record_no"]): label["expected_reason"]
        for label in sample_labels()
        if label["noise"] == "malformed"
    }

    assert got == expected
    assert len(set(expected.values())) == 10


def test_scores_and_alerts_are_consistent():
    result = sample_replay()
    scored_ids = {s.view.event.tx.tx_id for s in result.scored}

    assert result.scores.shape == (len(result.scored),)
    assert ((result.scores >= 0) & (result.scores <= 1)).all()
    assert all(alert.tx_id in scored_ids for alert in result.alerts)
    assert len({alert.alert_id for alert in result.alerts}) == len(result.alerts)


# ---------------------------------------------------------------- files and formats


def test_undecodable_bytes_and_blank_lines_in_a_file_reach_the_dlq(tmp_path):
    good = csv_record()
    path = tmp_path / "tx.csv"
    path.write_bytes(
        (HEADER + "\n" + good + "\n\n").encode()
        + csv_record(tx_id="tx_bad", venue="coinex").encode().replace(b"coinex", b"coin\xffex")
        + b"\n"
    )

    result = replay(iter_records(path), components(), score=False)

    assert [s.view.event.tx.tx_id for s in result.scored] == ["tx_00000000000000a1"]
    assert [r.reason for _, r in result.rejections] == [EMPTY_RECORD, NOT_UTF8]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict:
    """A small generated dataset in both formats (same records), replayed with its wallets."""
    out = {}
    folder = tmp_path_factory.mktemp("generated")
    wallets = folder / "wallets.csv"
    for fmt in ("csv", "jsonl"):
        data, labels, wallet_rows = io.StringIO(), io.StringIO(), io.StringIO()
        generate(Config(events=8_000, seed=3, fmt=fmt), data, labels, wallet_rows)
        wallets.write_text(wallet_rows.getvalue())
        cfg = load_config(
            {"source.format": fmt, "reference.wallets_file": str(wallets)}, environ={}
        )
        lines = data.getvalue().splitlines()
        labels = list(csv.DictReader(io.StringIO(labels.getvalue())))
        out[fmt] = (lines, labels, replay(lines, Components(cfg)))
    return out


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_generated_dataset_replays_with_labelled_dlq_reasons(generated, fmt):
    lines, labels, result = generated[fmt]
    data = lines[1:] if fmt == "csv" else lines
    index = {line: i for i, line in enumerate(data, start=1)}

    got = {index[raw]: r.reason for raw, r in result.rejections}
    expected = {
        int(label["record_no"]): label["expected_reason"]
        for label in labels
        if label["noise"] == "malformed"
    }

    assert len(result.scored) + len(result.rejections) + len(result.duplicates) == len(labels)
    assert got == expected


def test_csv_and_jsonl_of_the_same_records_give_the_same_outcomes(generated):
    def summary(result):
        return (
            [
                (s.view.event.tx.tx_id, [h.rule_id for h in s.hits], s.features)
                for s in result.scored
            ],
            sorted((a.tx_id, a.rule_ids, a.severity) for a in result.alerts),
            sorted(r.reason for _, r in result.rejections),
            [(d.tx_id, d.wallet_id) for d in result.duplicates],
        )

    csv_summary = summary(generated["csv"][2])
    json_summary = summary(generated["jsonl"][2])

    assert csv_summary[0] == json_summary[0]
    assert csv_summary[1:] == json_summary[1:]
    assert json.dumps(csv_summary[1]) == json.dumps(json_summary[1])
