"""The JSON Schemas of contracts/: valid draft 2020-12, and they accept what they should.

The sample's valid records must validate; malformed ones must not, except those whose
defect only reference data or the clock can see (unknown_asset, timestamp_out_of_range).
"""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from datasets.generator import SAMPLE_LABELS, SAMPLE_TRANSACTIONS, Config, generate
from datasets.noise import MALFORMED_REASONS
from operators.event import EVENT_FIELDS, TX_TYPES

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
SCHEMAS = ("transaction-event.v1", "alert.v1", "dlq-record.v1")
# DLQ reasons the event schema can see by itself
SCHEMA_VISIBLE_REASONS = {
    "malformed_record",
    "missing_field",
    "wrong_type",
    "bad_amount",
    "bad_enum",
    "bad_timestamp",
    "bad_ip",
    "bad_country",
}
# DLQ reasons the generator never produces (raw bytes, size, or pipeline state)
PIPELINE_ONLY_REASONS = {"empty_record", "oversize_record", "not_utf8", "duplicate_conflict"}
# DLQ reasons only the hostile-input corpus (datasets/hostile/) exercises
HOSTILE_ONLY_REASONS = {
    "not_json_object",
    "control_characters",
    "field_too_long",
    "timestamp_in_future",
    "amount_too_large",
    "too_late",
}


def load_schema(name: str) -> dict:
    return json.loads((CONTRACTS / f"{name}.schema.json").read_text())


def validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def csv_event(line: str) -> dict | None:
    """The JSON object a CSV row stands for: empty fields are null, numbers are parsed
    (a non-numeric amount, NaN included, stays text: JSON has no such number); None for a
    row of the wrong width."""
    values = line.split(",")
    if len(values) != len(EVENT_FIELDS):
        return None
    event: dict = {}
    for name, text in zip(EVENT_FIELDS, values, strict=True):
        if text == "":
            event[name] = None
        elif name in ("amount", "amount_usd"):
            try:
                number = float(text)
            except ValueError:
                number = None
            event[name] = number if number is not None and math.isfinite(number) else text
        elif name == "event_time" and text.isdigit():
            event[name] = int(text)
        else:
            event[name] = text
    return event


def json_event(line: str) -> dict | None:
    """The JSON object of a JSON line; None when it is no JSON object."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


def check_records(events: list[dict | None], labels: list[dict]) -> None:
    """Valid records validate; schema-visible malformed ones fail; the rest pass."""
    events_validator = validator("transaction-event.v1")
    assert len(events) == len(labels)
    seen_reasons = set()
    for event, label in zip(events, labels, strict=True):
        reason = label["expected_reason"]
        valid = event is not None and events_validator.is_valid(event)
        if label["noise"] != "malformed":
            assert valid, (label, list(events_validator.iter_errors(event)))
        elif reason in SCHEMA_VISIBLE_REASONS:
            seen_reasons.add(reason)
            assert not valid, (label, event)
        else:
            seen_reasons.add(reason)
            assert valid, (label, event)
    assert seen_reasons == set(MALFORMED_REASONS)


def read_labels(text: str) -> list[dict]:
    lines = text.splitlines()
    header = lines[0].split(",")
    return [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]


@pytest.mark.parametrize("name", SCHEMAS)
def test_schema_is_valid_draft_2020_12_with_id_and_version(name):
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}.schema.json")
    # v1 schemas only grow compatibly (minor versions), e.g. new DLQ reason codes
    assert schema["version"].split(".")[0] == "1" and len(schema["version"].split(".")) == 3


def test_event_schema_follows_the_contract_field_order_and_types():
    schema = load_schema("transaction-event.v1")
    assert list(schema["properties"]) == list(EVENT_FIELDS)
    assert schema["properties"]["tx_type"]["enum"] == list(TX_TYPES)
    assert schema["additionalProperties"] is True


def test_committed_sample_rows_validate_unless_malformed():
    lines = SAMPLE_TRANSACTIONS.read_text().splitlines()
    assert lines[0] == ",".join(EVENT_FIELDS)
    events = [csv_event(line) for line in lines[1:]]
    check_records(events, read_labels(SAMPLE_LABELS.read_text()))


def test_json_lines_validate_unless_malformed():
    out, labels = io.StringIO(), io.StringIO()
    generate(Config(events=8_000, seed=2, fmt="jsonl"), out, labels)
    events = [json_event(line) for line in out.getvalue().splitlines()]
    check_records(events, read_labels(labels.getvalue()))


def test_event_schema_accepts_both_time_forms_and_extra_fields():
    events = validator("transaction-event.v1")
    base = {
        "tx_id": "tx_1",
        "tx_type": "trade",
        "wallet_id": "w_000001",
        "asset": "BTC",
        "amount": 0.5,
    }
    for when in (1772438400000, "2026-03-02T08:15:30.123Z", "2026-03-02T08:15:30+00:00"):
        assert events.is_valid({**base, "event_time": when, "note": "extra"})
    for when in ("2026-03-02T08:15:30+02:00", "2026-03-02", -1, 1.5):
        assert not events.is_valid({**base, "event_time": when})


ALERT = {
    "alert_id": "al_1",
    "tx_id": "tx_1",
    "wallet_id": "w_000001",
    "event_time": "2026-03-02T08:15:30.123Z",
    "detected_at": "2026-03-02T08:15:31.002Z",
    "rule_ids": ["velocity_burst", "model_score"],
    "severity": "high",
    "score": 0.93,
    "model_version": "fraud-gbm-1",
    "rules_version": "python-detectors-v1",
    "features": {"usd": 1250.0, "events_5m": 11},
}


@pytest.mark.parametrize(
    "change",
    [
        {"rule_ids": []},
        {"rule_ids": ["Velocity Burst"]},
        {"severity": "urgent"},
        {"score": 1.5},
        {"features": {"usd": "1250"}},
        {"event_time": "yesterday"},
        {"detected_at": 1772438400000},
    ],
)
def test_alert_schema_rejects_bad_alerts(change):
    alerts = validator("alert.v1")
    assert alerts.is_valid(ALERT)
    assert not alerts.is_valid({**ALERT, **change})
    assert not alerts.is_valid({k: v for k, v in ALERT.items() if k != next(iter(change))})


def test_dlq_schema_takes_every_reason_and_base64_originals():
    records = validator("dlq-record.v1")
    original = base64.b64encode(b"tx_1,not,a,record\n").decode()
    reasons = load_schema("dlq-record.v1")["properties"]["reason"]["enum"]
    assert set(reasons) == set(MALFORMED_REASONS) | PIPELINE_ONLY_REASONS | HOSTILE_ONLY_REASONS
    for reason in reasons:
        record = {
            "original": original,
            "reason": reason,
            "detail": "4 CSV columns, expected 14",
            "source": "datasets/sample_transactions.csv:123",
            "received_at": "2026-11-28T10:00:00.000Z",
        }
        assert records.is_valid(record)
    assert not records.is_valid({**record, "reason": "other"})
    assert not records.is_valid({**record, "original": "not base64!"})
    assert not records.is_valid({k: v for k, v in record.items() if k != "detail"})


@pytest.mark.parametrize(
    "origin",
    [
        {"kind": "kafka", "topic": "transactions", "partition": 2, "offset": 41},
        {
            "kind": "kinesis",
            "stream": "transactions",
            "shard_id": "shardId-000000000001",
            "sequence_number": "49655016153488416213553219339208364813562960226434842642",
        },
        {"kind": "file", "path": "file:/data/tx.csv", "line": 17},
    ],
)
def test_dlq_schema_takes_each_kind_of_origin_and_rejects_a_mixed_one(origin):
    from pipeline.functions import dlq_record
    from pipeline.origin import SEP, origin_fields, split_origin

    records = validator("dlq-record.v1")
    record = json.loads(dlq_record("x", "malformed_record", "d", "kafka:h/t", 0, origin))
    assert records.is_valid(record)
    assert records.is_valid({k: v for k, v in record.items() if k != "origin"})  # optional
    assert not records.is_valid({**record, "origin": {**origin, "line": 0, "offset": -1}})
    # what the sources' envelope (Origin.java) parses into
    header = {
        "kafka": "k|{topic}|{partition}|{offset}",
        "kinesis": "s|{stream}|{shard_id}|{sequence_number}",
        "file": "f|{line}|{path}",
    }[origin["kind"]].format(**origin)
    parsed, payload = split_origin(f"{SEP}{header}{SEP}{SEP}a,b")
    assert origin_fields(parsed) == origin and payload == f"{SEP}a,b"
