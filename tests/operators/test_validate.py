"""Validation: every raw record becomes exactly one typed Transaction or one DLQ reason.

The hand-written validator (`operators/validate.py`) is the fast form of
`contracts/transaction-event.v1.schema.json`; the last tests keep the two in agreement.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from operators.event import EVENT_FIELDS, Transaction
from operators.validate import (
    AMOUNT_TOO_LARGE,
    BAD_AMOUNT,
    BAD_COUNTRY,
    BAD_ENUM,
    BAD_IP,
    BAD_TIMESTAMP,
    CONTROL_CHARACTERS,
    DUPLICATE_CONFLICT,
    EMPTY_RECORD,
    FIELD_TOO_LONG,
    MALFORMED_RECORD,
    MISSING_FIELD,
    NOT_JSON_OBJECT,
    NOT_UTF8,
    OVERSIZE_RECORD,
    REASON_CODES,
    REQUIRED_FIELDS,
    TIMESTAMP_IN_FUTURE,
    TIMESTAMP_OUT_OF_RANGE,
    TOO_LATE_EVENT,
    UNKNOWN_ASSET,
    WRONG_TYPE,
    Rejection,
    parse_record,
)
from tests.factories import (
    RAW_EVENT,
    RAW_EVENT_MS,
    components,
    csv_record,
    json_record,
    record,
    sample_labels,
)

DAY = 86_400_000
NOW = RAW_EVENT_MS + 30 * DAY  # the validator's clock in these tests
CFG = components().cfg
LIMIT = CFG.source.max_record_bytes
MIN_MS = CFG.validation.min_event_time_ms
MAX_MS = NOW + CFG.validation.max_future_skew_ms
FORMATS = ("csv", "jsonl")
CONTRACT = json.loads(
    (CFG.resolve("contracts") / "transaction-event.v1.schema.json").read_text(encoding="utf-8")
)


def check(raw: str, fmt: str, comps=None) -> Transaction | Rejection:
    """What the keyed operator makes of one raw record: size, parse, then fields."""
    validator = (comps or components(fmt)).validator
    rejection = validator.check_size(raw)
    if rejection is not None:
        return rejection
    rec = parse_record(raw, fmt)
    if isinstance(rec, Rejection):
        return rec
    return validator.validate(rec, NOW, fmt == "csv")


def outcome(raw: str, fmt: str, comps=None) -> str:
    """The DLQ reason of `raw`, or "accepted"."""
    result = check(raw, fmt, comps)
    if isinstance(result, Rejection):
        assert result.detail, "every rejection explains itself"
        return result.reason
    assert isinstance(result, Transaction)
    return "accepted"


def iso(ms: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).strftime(
        "%Y-%m-%dT%H:%M:%S.%f"
    )[:-3] + "Z"


def undecodable(text: str) -> str:
    """`text` with a byte that is no UTF-8, as Python reads it (surrogateescape)."""
    return (text.encode() + b"\xff").decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- crafted records
# (reason, label, raw record). Ids are "<reason>-<label>".

_CSV_BASE = csv_record()
CSV_CASES = [
    (MALFORMED_RECORD, "13-columns", _CSV_BASE[: _CSV_BASE.rindex(",")]),
    (MALFORMED_RECORD, "15-columns", _CSV_BASE + ",extra"),
    (MALFORMED_RECORD, "one-column", "hello"),
    (EMPTY_RECORD, "empty", ""),
    (EMPTY_RECORD, "blank", "   \r\n"),
    (OVERSIZE_RECORD, "ascii", csv_record(venue="v" * LIMIT)),
    (OVERSIZE_RECORD, "multibyte", csv_record(venue="é" * (LIMIT // 2 + 1))),
    (NOT_UTF8, "surrogate-escaped-byte", csv_record(venue=undecodable("coinex"))),
    (NOT_UTF8, "jvm-replacement-char", csv_record(device_id="d_\ufffd")),
    *[(MISSING_FIELD, f"empty-{name}", csv_record(**{name: None})) for name in REQUIRED_FIELDS],
    *[
        (WRONG_TYPE, f"amount-{text}", csv_record(amount=text))
        for text in ("ten", "12.5.3", "1e", "abc", "0x1F")
    ],
    (WRONG_TYPE, "amount_usd-text", csv_record(amount_usd="lots")),
    (CONTROL_CHARACTERS, "tx_id-bell", csv_record(tx_id="tx_\x07bell")),
    (CONTROL_CHARACTERS, "wallet_id-escape", csv_record(wallet_id="w_\x1b[31m")),
    (CONTROL_CHARACTERS, "asset-nul", csv_record(asset="ETH\x00")),
    (CONTROL_CHARACTERS, "tx_type-zero-width", csv_record(tx_type="trade\u200b")),
    (CONTROL_CHARACTERS, "counterparty-tab", csv_record(counterparty_wallet="0x\t1")),
    (CONTROL_CHARACTERS, "device-del", csv_record(device_id="d_\x7f")),
    (MISSING_FIELD, "tx_id-blank", csv_record(tx_id="   ")),
    (FIELD_TOO_LONG, "tx_id-129-chars", csv_record(tx_id="t" * 129)),
    (FIELD_TOO_LONG, "venue-129-chars", csv_record(venue="v" * 129)),
    *[
        (BAD_TIMESTAMP, f"event_time-{text}", csv_record(event_time=text))
        for text in (
            "yesterday",
            "2026-13-45T99:61:00Z",
            "02/03/2026 08:15",
            "2026-03-02 25:00:00",
            "2026-03-02 08:15:30Z",
            "2026-03-02T08:15:30",
            "2026-03-02T08:15:30+01:00",
            "2026-03-02T08:15Z",
            "2026-02-30T08:15:30Z",
            "2026-W10-1T08:15:30Z",
            "20260302T081530Z",
            "1772439330123.5",
            "-1772439330123",
            "²",
        )
    ],
    *[
        (TIMESTAMP_OUT_OF_RANGE, f"event_time-{text}", csv_record(event_time=text))
        for text in ("2008-12-31T23:59:59.999Z", "0")
    ],
    *[
        (TIMESTAMP_IN_FUTURE, f"event_time-{text}", csv_record(event_time=text))
        for text in ("2100-01-01T00:00:00Z", str(MAX_MS + 1))
    ],
    *[(BAD_ENUM, f"tx_type-{t}", csv_record(tx_type=t)) for t in ("refund", "swap", "Trade")],
    *[
        (BAD_AMOUNT, f"amount-{text}", csv_record(amount=text))
        for text in ("0", "-1", "-0.0", "NaN", "inf", "-inf")
    ],
    (AMOUNT_TOO_LARGE, "amount-1e13", csv_record(amount="1e13")),
    (BAD_AMOUNT, "amount_usd-negative", csv_record(amount_usd="-0.01")),
    *[(UNKNOWN_ASSET, f"asset-{a}", csv_record(asset=a)) for a in ("PEPE", "FOO1", "eth")],
    *[
        (BAD_IP, f"ip-{ip}", csv_record(ip=ip))
        for ip in (
            "300.12.4.1",
            "10.0.0",
            "abc.def.1.2",
            "192.168.1.256",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.²",
            "١.٢.٣.٤",
            "1.2.3.-4",
        )
    ],
    *[
        (BAD_COUNTRY, f"country-{c}", csv_record(country=c))
        for c in ("usa", "D3", "Germany", "u", "XXX", "de")
    ],
]

_JSON_BASE = json_record()
JSON_CASES = [
    (MALFORMED_RECORD, "truncated", _JSON_BASE[:-10]),
    (NOT_JSON_OBJECT, "array", "[1, 2]"),
    (NOT_JSON_OBJECT, "string", '"tx"'),
    (NOT_JSON_OBJECT, "number", "42"),
    (NOT_JSON_OBJECT, "null", "null"),
    (MALFORMED_RECORD, "NaN-literal", json_record(amount=float("nan"))),
    (MALFORMED_RECORD, "Infinity-literal", json_record(amount_usd=float("inf"))),
    (MALFORMED_RECORD, "trailing-garbage", _JSON_BASE + " x"),
    (EMPTY_RECORD, "empty", ""),
    (EMPTY_RECORD, "blank", " \t "),
    (OVERSIZE_RECORD, "ascii", json_record(note="x" * LIMIT)),
    (NOT_UTF8, "surrogate-escaped-byte", json_record(venue=undecodable("coinex"))),
    (NOT_UTF8, "jvm-replacement-char", json_record(device_id="d_\ufffd")),
    *[(MISSING_FIELD, f"no-{name}", json_record(**{name: ...})) for name in REQUIRED_FIELDS],
    *[(MISSING_FIELD, f"null-{name}", json_record(**{name: None})) for name in REQUIRED_FIELDS],
    (WRONG_TYPE, "amount-string", json_record(amount="1.5")),
    (WRONG_TYPE, "amount-bool", json_record(amount=True)),
    (WRONG_TYPE, "amount-object", json_record(amount={"value": 1.5})),
    (WRONG_TYPE, "amount-array", json_record(amount=[1.5])),
    (WRONG_TYPE, "amount_usd-string", json_record(amount_usd="12")),
    (WRONG_TYPE, "amount_usd-bool", json_record(amount_usd=False)),
    (WRONG_TYPE, "tx_id-number", json_record(tx_id=42)),
    (WRONG_TYPE, "wallet_id-object", json_record(wallet_id={"id": "w_000000"})),
    (MISSING_FIELD, "wallet_id-empty", json_record(wallet_id="")),
    (WRONG_TYPE, "asset-array", json_record(asset=["ETH"])),
    (WRONG_TYPE, "tx_type-number", json_record(tx_type=1)),
    (WRONG_TYPE, "counterparty-object", json_record(counterparty_wallet={"address": "0x1"})),
    (WRONG_TYPE, "venue-number", json_record(venue=7)),
    (WRONG_TYPE, "ip-number", json_record(ip=620_954_890)),
    (WRONG_TYPE, "country-array", json_record(country=["DE"])),
    (WRONG_TYPE, "device_id-bool", json_record(device_id=True)),
    (CONTROL_CHARACTERS, "tx_id-newline", json_record(tx_id="tx\n1")),
    (CONTROL_CHARACTERS, "wallet_id-nul", json_record(wallet_id="w_\x00")),
    (CONTROL_CHARACTERS, "chain-line-separator", json_record(chain="ethereum\u2028")),
    (MISSING_FIELD, "tx_id-blank", json_record(tx_id=" ")),
    (FIELD_TOO_LONG, "wallet_id-129-chars", json_record(wallet_id="w" * 129)),
    (BAD_TIMESTAMP, "event_time-bool", json_record(event_time=True)),
    (BAD_TIMESTAMP, "event_time-digit-string", json_record(event_time=str(RAW_EVENT_MS))),
    (BAD_TIMESTAMP, "event_time-fraction-ms", json_record(event_time=RAW_EVENT_MS + 0.5)),
    (BAD_TIMESTAMP, "event_time-object", json_record(event_time={"ms": RAW_EVENT_MS})),
    (BAD_TIMESTAMP, "event_time-array", json_record(event_time=[RAW_EVENT_MS])),
    (BAD_TIMESTAMP, "event_time-offset", json_record(event_time="2026-03-02T08:15:30+01:00")),
    (BAD_TIMESTAMP, "event_time-padded", json_record(event_time=" 2026-03-02T08:15:30Z ")),
    (BAD_TIMESTAMP, "event_time-lowercase-z", json_record(event_time="2026-03-02T08:15:30z")),
    (
        BAD_TIMESTAMP,
        "event_time-10-digit-fraction",
        json_record(event_time=iso(0)[:-1] + "0" * 7 + "Z"),
    ),
    (BAD_TIMESTAMP, "event_time-yesterday", json_record(event_time="yesterday")),
    (BAD_TIMESTAMP, "event_time-feb-30", json_record(event_time="2026-02-30T08:15:30Z")),
    (TIMESTAMP_OUT_OF_RANGE, "event_time-negative", json_record(event_time=-1)),
    (TIMESTAMP_OUT_OF_RANGE, "event_time-zero", json_record(event_time=0)),
    (TIMESTAMP_OUT_OF_RANGE, "event_time-before-2009", json_record(event_time=MIN_MS - 1)),
    (TIMESTAMP_IN_FUTURE, "event_time-future", json_record(event_time=MAX_MS + 1)),
    (TIMESTAMP_IN_FUTURE, "event_time-2100", json_record(event_time="2100-01-01T00:00:00Z")),
    (TIMESTAMP_IN_FUTURE, "event_time-huge", json_record(event_time=1e20)),
    (BAD_ENUM, "tx_type-refund", json_record(tx_type="refund")),
    (BAD_ENUM, "tx_type-upper", json_record(tx_type="TRANSFER")),
    (BAD_AMOUNT, "amount-zero", json_record(amount=0)),
    (BAD_AMOUNT, "amount-negative", json_record(amount=-1)),
    (AMOUNT_TOO_LARGE, "amount-above-max", json_record(amount=1e13)),
    (BAD_AMOUNT, "amount_usd-negative", json_record(amount_usd=-0.01)),
    (AMOUNT_TOO_LARGE, "amount_usd-above-max", json_record(amount_usd=1e13)),
    (UNKNOWN_ASSET, "asset-PEPE", json_record(asset="PEPE")),
    (UNKNOWN_ASSET, "asset-lowercase", json_record(asset="eth")),
    (BAD_IP, "ip-300", json_record(ip="300.12.4.1")),
    (BAD_IP, "ip-empty", json_record(ip="")),
    (BAD_IP, "ip-leading-zero", json_record(ip="01.2.3.4")),
    (BAD_IP, "ip-padded", json_record(ip=" 1.2.3.4")),
    (BAD_COUNTRY, "country-usa", json_record(country="usa")),
    (BAD_COUNTRY, "country-empty", json_record(country="")),
    (BAD_COUNTRY, "country-lowercase", json_record(country="de")),
]

CASES = {"csv": CSV_CASES, "jsonl": JSON_CASES}


def _params(fmt: str) -> list:
    return [pytest.param(raw, reason, id=f"{reason}-{label}") for reason, label, raw in CASES[fmt]]


@pytest.mark.parametrize(("raw", "reason"), _params("csv"))
def test_crafted_csv_record_gets_its_dlq_reason(raw, reason):
    assert outcome(raw, "csv") == reason


@pytest.mark.parametrize(("raw", "reason"), _params("jsonl"))
def test_crafted_json_record_gets_its_dlq_reason(raw, reason):
    assert outcome(raw, "jsonl") == reason


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_record_level_reason_code_is_produced_in_both_formats(fmt):
    produced = {outcome(raw, fmt) for _, _, raw in CASES[fmt]}

    # duplicate_conflict and too_late need state (operators/wallet_risk.py), not one record;
    # CSV has no JSON values that could be something other than an object
    stateful = {DUPLICATE_CONFLICT, TOO_LATE_EVENT}
    json_only = {NOT_JSON_OBJECT} if fmt == "csv" else set()
    assert produced - {"accepted"} == set(REASON_CODES) - stateful - json_only


def test_dlq_contract_lists_exactly_the_reason_codes():
    dlq = json.loads((CFG.resolve("contracts") / "dlq-record.v1.schema.json").read_text())

    assert dlq["properties"]["reason"]["enum"] == list(REASON_CODES)


# ---------------------------------------------------------------- valid records


def test_sample_record_parses_into_the_exact_transaction():
    line = (
        "tx_b72a56b0eccb8ce0,1772410676901,withdrawal,w_001152,"
        "0x11d6918dd501a0914a6371fbc618df7909e83a15,ETH,0.73557,,ethereum,"
        "0x8568df5a086e16ed5cd05d00171dd167bdc91aeca7efb97d03b4924bd704940f,coinex-us,"
        "78.70.6.133,BR,d_bb8390"
    )

    assert check(line, "csv") == Transaction(
        tx_id="tx_b72a56b0eccb8ce0",
        event_time_ms=1_772_410_676_901,
        tx_type="withdrawal",
        wallet_id="w_001152",
        counterparty_wallet="0x11d6918dd501a0914a6371fbc618df7909e83a15",
        asset="ETH",
        amount=0.73557,
        amount_usd=None,
        chain="ethereum",
        tx_hash="0x8568df5a086e16ed5cd05d00171dd167bdc91aeca7efb97d03b4924bd704940f",
        venue="coinex-us",
        ip="78.70.6.133",
        country="BR",
        device_id="d_bb8390",
    )


def test_sample_transfer_with_empty_fields_parses_them_as_none():
    line = (
        "tx_3981e1b206d37842,2026-03-02T00:12:12.495Z,transfer,w_000116,w_000953,USDT,50.35,"
        ",,,coinex-ap,78.24.20.82,KR,d_4f9150"
    )

    assert check(line, "csv") == Transaction(
        tx_id="tx_3981e1b206d37842",
        event_time_ms=1_772_410_332_495,
        tx_type="transfer",
        wallet_id="w_000116",
        counterparty_wallet="w_000953",
        asset="USDT",
        amount=50.35,
        venue="coinex-ap",
        ip="78.24.20.82",
        country="KR",
        device_id="d_4f9150",
    )


def _expected(line: str) -> Transaction:
    """A restatement of the CSV contract, independent of the validator."""
    f = {k: (v or None) for k, v in zip(EVENT_FIELDS, line.split(","), strict=True)}
    t = f["event_time"]
    if t.isdigit():
        ms = int(t)
    else:
        dt = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        ms = (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    usd = f["amount_usd"]
    return Transaction(
        tx_id=f["tx_id"],
        event_time_ms=ms,
        tx_type=f["tx_type"],
        wallet_id=f["wallet_id"],
        counterparty_wallet=f["counterparty_wallet"],
        asset=f["asset"],
        amount=float(f["amount"]),
        amount_usd=None if usd is None else float(usd),
        chain=f["chain"],
        tx_hash=f["tx_hash"],
        venue=f["venue"],
        ip=f["ip"],
        country=f["country"],
        device_id=f["device_id"],
    )


def test_every_sample_record_is_accepted_exactly_or_rejected_with_its_labelled_reason():
    lines = CFG.resolve(CFG.source.path).read_text(encoding="utf-8").splitlines()[1:]
    labels = sample_labels()
    assert len(lines) == len(labels)

    wrong = []
    for line, label in zip(lines, labels, strict=True):
        got = check(line, "csv")
        if label["noise"] == "malformed":
            ok = isinstance(got, Rejection) and got.reason == label["expected_reason"]
        else:
            ok = got == _expected(line)
        if not ok:
            wrong.append((label["record_no"], label["expected_reason"], got))

    assert wrong == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_valid_record_round_trips_every_field(fmt):
    tx = check(record(fmt, amount_usd=2.25), fmt)

    assert isinstance(tx, Transaction)
    assert tx.event_time_ms == RAW_EVENT_MS
    assert (tx.amount, tx.amount_usd) == (1.5, 2.25)
    for name in EVENT_FIELDS:
        if name not in ("event_time", "amount", "amount_usd"):
            assert getattr(tx, name) == RAW_EVENT[name], name


def test_json_record_needs_only_the_required_fields_and_ignores_unknown_ones():
    minimal = {name: RAW_EVENT[name] for name in REQUIRED_FIELDS}
    tx = check(json.dumps({**minimal, "memo": {"nested": [1, 2]}}), "jsonl")

    assert isinstance(tx, Transaction)
    assert (tx.counterparty_wallet, tx.ip, tx.country, tx.amount_usd) == (None, None, None, None)


def test_json_integer_amount_is_a_number():
    tx = check(json_record(amount=3), "jsonl")

    assert isinstance(tx, Transaction) and tx.amount == 3.0 and isinstance(tx.amount, float)


def test_zero_amount_usd_is_valid():
    tx = check(json_record(amount_usd=0), "jsonl")

    assert isinstance(tx, Transaction) and tx.amount_usd == 0.0


# ---------------------------------------------------------------- event time


@pytest.mark.parametrize(
    ("fmt", "event_time"),
    [
        ("csv", "2026-03-02T08:15:30.123Z"),
        ("csv", "2026-03-02T08:15:30.123+00:00"),
        ("csv", "2026-03-02T08:15:30.123456789Z"),
        ("csv", str(RAW_EVENT_MS)),
        ("jsonl", "2026-03-02T08:15:30.123Z"),
        ("jsonl", "2026-03-02T08:15:30.1230+00:00"),
        ("jsonl", RAW_EVENT_MS),
        ("jsonl", float(RAW_EVENT_MS)),
    ],
)
def test_iso_and_epoch_ms_event_times_give_the_same_ms(fmt, event_time):
    tx = check(record(fmt, event_time=event_time), fmt)

    assert isinstance(tx, Transaction)
    assert tx.event_time_ms == RAW_EVENT_MS


@pytest.mark.parametrize(
    "ms",
    [
        MIN_MS,
        1_709_164_800_000,  # 2024-02-29T00:00:00Z, a leap day
        1_767_225_599_999,  # 2025-12-31T23:59:59.999Z
        RAW_EVENT_MS + 1,
        RAW_EVENT_MS + 999,
    ],
)
def test_iso_text_and_epoch_ms_agree_across_the_calendar(ms):
    from_iso = check(csv_record(event_time=iso(ms)), "csv")
    from_epoch = check(csv_record(event_time=str(ms)), "csv")

    assert from_iso.event_time_ms == from_epoch.event_time_ms == ms


def test_iso_without_fraction_and_with_one_digit_fraction():
    whole = check(json_record(event_time="2026-03-02T08:15:30Z"), "jsonl")
    tenth = check(json_record(event_time="2026-03-02T08:15:30.1Z"), "jsonl")

    assert whole.event_time_ms == RAW_EVENT_MS - 123
    assert tenth.event_time_ms == RAW_EVENT_MS - 23


@pytest.mark.parametrize("fmt", FORMATS)
def test_event_time_bounds_are_inclusive(fmt):
    def at(ms):
        return outcome(record(fmt, event_time=iso(ms)), fmt)

    assert at(MIN_MS) == "accepted"
    assert at(MIN_MS - 1) == TIMESTAMP_OUT_OF_RANGE
    assert at(MAX_MS) == "accepted"
    assert at(MAX_MS + 1) == TIMESTAMP_IN_FUTURE


def test_min_event_time_is_the_bitcoin_genesis_day():
    assert iso(MIN_MS) == "2009-01-03T00:00:00.000Z"


# ---------------------------------------------------------------- size, encoding, text


def _padded_json(total_bytes: int) -> str:
    base = json_record(note="")
    return json_record(note="x" * (total_bytes - len(base.encode())))


def test_json_record_of_exactly_the_size_limit_is_accepted():
    raw = _padded_json(LIMIT)

    assert len(raw.encode()) == LIMIT
    assert outcome(raw, "jsonl") == "accepted"
    assert outcome(_padded_json(LIMIT + 1), "jsonl") == OVERSIZE_RECORD


def test_size_limit_counts_utf8_bytes_not_characters():
    base = json_record(note="")
    raw = json_record(note="é" * ((LIMIT - len(base.encode())) // 2 + 1))

    assert len(raw) < LIMIT < len(raw.encode())
    assert outcome(raw, "jsonl") == OVERSIZE_RECORD


@pytest.mark.parametrize("fmt", FORMATS)
def test_size_limit_comes_from_the_config(fmt):
    raw = record(fmt)
    size = len(raw.encode())
    at_limit = components(fmt, (("source.max_record_bytes", size),))
    below = components(fmt, (("source.max_record_bytes", size - 1),))

    assert outcome(raw, fmt, at_limit) == "accepted"
    assert outcome(raw, fmt, below) == OVERSIZE_RECORD


@pytest.mark.parametrize("fmt", FORMATS)
def test_oversize_is_checked_before_parsing(fmt):
    assert outcome("{" * (LIMIT + 1), fmt) == OVERSIZE_RECORD


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("field", ["tx_id", "wallet_id", "counterparty_wallet", "device_id"])
@pytest.mark.parametrize("char", ["\x00", "\x08", "\x1b", "\x85", "\u200b", "\u2029", "\ue000"])
def test_non_printable_characters_in_ids_are_control_characters(fmt, field, char):
    assert outcome(record(fmt, **{field: f"id{char}x"}), fmt) == CONTROL_CHARACTERS


@pytest.mark.parametrize("fmt", FORMATS)
def test_printable_unicode_ids_are_accepted(fmt):
    assert outcome(record(fmt, wallet_id="w_münchen_東京", venue="café"), fmt) == "accepted"


@pytest.mark.parametrize("fmt", FORMATS)
def test_ids_may_be_128_characters_but_not_129(fmt):
    assert outcome(record(fmt, tx_id="t" * 128), fmt) == "accepted"
    assert outcome(record(fmt, tx_id="t" * 129), fmt) == FIELD_TOO_LONG


def test_undecodable_bytes_win_over_every_other_defect():
    raw = undecodable("tx_1,yesterday,refund,,,PEPE,abc,,,,,300.1.1.1,usa,")

    assert outcome(raw, "csv") == NOT_UTF8


def test_csv_line_ending_is_not_part_of_the_last_field():
    assert check(csv_record() + "\r\n", "csv") == check(csv_record(), "csv")


def test_the_first_failing_check_gives_the_reason():
    # a missing field comes before the type of another, the amount before the IP
    assert outcome(csv_record(tx_id=None, amount="abc"), "csv") == MISSING_FIELD
    assert outcome(csv_record(amount="abc", ip="300.1.1.1"), "csv") == WRONG_TYPE
    assert outcome(csv_record(event_time="2008-01-01T00:00:00Z", asset="PEPE"), "csv") == (
        TIMESTAMP_OUT_OF_RANGE
    )


# ---------------------------------------------------------------- agreement with the contract

# Reasons the schema cannot see: reference data, the clock, raw bytes and size.
SCHEMA_BLIND = {
    UNKNOWN_ASSET,
    TIMESTAMP_OUT_OF_RANGE,
    TIMESTAMP_IN_FUTURE,
    OVERSIZE_RECORD,
    NOT_UTF8,
}
# Where the validator is deliberately stricter than the schema (ids are 1-128 printable,
# non-blank characters; amounts have the configured maximum): (label, record, reason).
STRICTER_THAN_SCHEMA = [
    ("tx_id-blank", json_record(tx_id=" "), MISSING_FIELD),
    ("tx_id-newline", json_record(tx_id="tx\n1"), CONTROL_CHARACTERS),
    ("wallet_id-nul", json_record(wallet_id="w_\x00"), CONTROL_CHARACTERS),
    ("chain-line-separator", json_record(chain="ethereum\u2028"), CONTROL_CHARACTERS),
    ("wallet_id-129-chars", json_record(wallet_id="w" * 129), FIELD_TOO_LONG),
    ("amount-above-max", json_record(amount=1e13), AMOUNT_TOO_LARGE),
    ("amount_usd-above-max", json_record(amount_usd=1e13), AMOUNT_TOO_LARGE),
]
_STRICTER_RAWS = {raw for _, raw, _ in STRICTER_THAN_SCHEMA}

VALID_VARIANTS = [
    json_record(),
    json.dumps({name: RAW_EVENT[name] for name in REQUIRED_FIELDS}),
    json_record(**{k: None for k in RAW_EVENT if k not in REQUIRED_FIELDS}),
    json_record(event_time=RAW_EVENT_MS),
    json_record(event_time=float(RAW_EVENT_MS)),
    json_record(event_time="2026-03-02T08:15:30+00:00"),
    json_record(event_time="2026-03-02T08:15:30.1Z"),
    json_record(event_time="2026-03-02T08:15:30.123456789Z"),
    json_record(event_time="2024-02-29T23:59:59.999Z"),
    json_record(tx_type="transfer", counterparty_wallet="w_000001", chain=None, tx_hash=None),
    json_record(tx_type="trade", counterparty_wallet=None),
    json_record(tx_type="deposit", ip=None, device_id=None),
    json_record(amount=7, amount_usd=0),
    json_record(amount=1e-8, amount_usd=12.5),
    json_record(ip="0.0.0.0"),
    json_record(ip="255.255.255.255"),
    json_record(ip="10.0.0.1", country="SG"),
    json_record(extra="ignored", another={"nested": True}),
    json_record(tx_id="  padded  "),
    json_record(asset="USDT", amount=1_000_000_000_000),
]


def contract_validator() -> Draft202012Validator:
    """The event contract with its formats checked (date-time by the standard library when
    jsonschema's optional RFC 3339 checker is not installed)."""
    checker = FormatChecker()
    if "date-time" not in checker.checkers:

        @checker.checks("date-time", raises=ValueError)
        def _date_time(value) -> bool:
            if isinstance(value, str):
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            return True

    Draft202012Validator.check_schema(CONTRACT)
    return Draft202012Validator(CONTRACT, format_checker=checker)


CONTRACT_VALIDATOR = contract_validator()


def schema_accepts(raw: str) -> bool:
    """Valid per the contract: UTF-8 JSON text (no NaN/Infinity) of an object that validates."""

    def no_constants(name):
        raise ValueError(name)

    try:
        raw.encode("utf-8")
        obj = json.loads(raw, parse_constant=no_constants)
    except ValueError:
        return False
    return CONTRACT_VALIDATOR.is_valid(obj)


def _agreement_params() -> list:
    params = [pytest.param(raw, id=f"valid-{i}") for i, raw in enumerate(VALID_VARIANTS)]
    params += [
        pytest.param(raw, id=f"{reason}-{label}")
        for reason, label, raw in JSON_CASES
        if reason not in SCHEMA_BLIND and raw not in _STRICTER_RAWS
    ]
    return params


@pytest.mark.parametrize("raw", _agreement_params())
def test_validator_accepts_a_json_record_iff_the_contract_does(raw):
    assert (outcome(raw, "jsonl") == "accepted") == schema_accepts(raw)


def test_agreement_set_has_both_valid_and_invalid_records():
    verdicts = [schema_accepts(p.values[0]) for p in _agreement_params()]

    assert verdicts.count(True) >= 15 and verdicts.count(False) >= 40


@pytest.mark.parametrize(
    ("raw", "reason"), [pytest.param(raw, r, id=label) for label, raw, r in STRICTER_THAN_SCHEMA]
)
def test_validator_is_stricter_than_the_contract_only_where_documented(raw, reason):
    assert schema_accepts(raw)
    assert outcome(raw, "jsonl") == reason


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(raw, id=f"{reason}-{label}")
        for reason, label, raw in JSON_CASES
        if reason in (UNKNOWN_ASSET, TIMESTAMP_OUT_OF_RANGE, TIMESTAMP_IN_FUTURE)
        and label not in ("event_time-negative", "asset-lowercase")
    ],
)
def test_reference_and_clock_rejections_are_records_the_schema_accepts(raw):
    # (a negative event_time and a lower-case asset already fail the schema's own checks)
    assert schema_accepts(raw)
