"""The hostile-input corpus: one JSON-lines file of records built to break the pipeline.

`python -m datasets.hostile_corpus` (re)writes `datasets/hostile/corpus.jsonl` and its
manifest `datasets/hostile/manifest.csv` (line_no, kind, expected, tx_id). `expected` is
declared here per kind, not computed by the validator: a DLQ reason code, `valid` (the
record must reach the processed zone verbatim) or `duplicate` (an exact resend, dropped
and listed in `duplicates/`). Records are read in file order by one wallet key each, so
the stateful kinds (duplicate_conflict, too_late, out of order) depend only on the order
of the lines of their own wallet.

The oversize records follow `source.max_record_bytes` of the shipped config; if that
changes, run this again (a test compares the committed files with this builder).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent / "hostile"
CORPUS = CORPUS_DIR / "corpus.jsonl"
MANIFEST = CORPUS_DIR / "manifest.csv"
MANIFEST_FIELDS = ("line_no", "kind", "expected", "tx_id")

T = 1_772_439_330_123  # 2026-03-02T08:15:30.123Z
HOUR = 3_600_000
SQL_INJECTION = "x'); DROP TABLE fraud_dw.transactions; --"


def _event(n: int, **overrides) -> dict:
    """A valid withdrawal of its own wallet (w_hostile_NNN); `...` leaves a field out."""
    event = {
        "tx_id": f"tx_hostile_{n:03d}",
        "event_time": T + n * 1000,
        "tx_type": "withdrawal",
        "wallet_id": f"w_hostile_{n:03d}",
        "counterparty_wallet": "0x1111111111111111111111111111111111111111",
        "asset": "ETH",
        "amount": 1.5,
        "amount_usd": None,
        "chain": "ethereum",
        "tx_hash": "0x" + "ab" * 32,
        "venue": "coinex-eu",
        "ip": "37.3.1.10",
        "country": "DE",
        "device_id": "d_a1b2c3",
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not ...}


def _json(event: dict) -> bytes:
    # ensure_ascii: control characters and non-ASCII text travel as \\u escapes, so every
    # record is one line whatever it holds.
    return json.dumps(event, ensure_ascii=True, allow_nan=True).encode()


def _padded_to(size: int, n: int) -> bytes:
    """A valid record of exactly `size` bytes (padding in an extra, unknown field)."""
    bare = _json(_event(n, note=""))
    return _json(_event(n, note="x" * (size - len(bare))))


def corpus(max_record_bytes: int) -> list[tuple[str, str, bytes]]:
    """(kind, expected, line without newline) in file order."""
    e = _event
    rows: list[tuple[str, str, bytes]] = [
        # --- valid, some hostile-looking: they must reach the warehouse as data
        ("plain_valid", "valid", _json(e(1))),
        ("sql_injection_in_venue", "valid", _json(e(2, venue=SQL_INJECTION))),
        ("sql_injection_in_device_id", "valid", _json(e(3, device_id="1' OR '1'='1"))),
        ("sql_injection_in_wallet_id", "valid", _json(e(4, wallet_id="w_4'; DELETE FROM x;--"))),
        (
            "sql_injection_in_counterparty",
            "valid",
            _json(e(5, counterparty_wallet="'||pg_sleep(5)||'")),
        ),
        ("script_tag_in_venue", "valid", _json(e(6, venue="<script>alert(1)</script>"))),
        ("unicode_text_in_venue", "valid", _json(e(7, venue="Börse 東京 🚀"))),
        ("unknown_extra_field", "valid", _json(e(8, loyalty_tier="gold"))),
        ("tiny_amount", "valid", _json(e(9, amount=1e-8))),
        ("record_at_size_limit", "valid", _padded_to(max_record_bytes, 10)),
        # --- structure
        ("empty_line", "empty_record", b""),
        ("whitespace_line", "empty_record", b" \t  "),
        ("truncated_json", "malformed_record", _json(e(11))[:-12]),
        ("trailing_garbage", "malformed_record", _json(e(12)) + b" }"),
        (
            "raw_control_char_in_json_string",
            "malformed_record",
            _json(e(13)).replace(b"coinex", b"coi\x01nex"),
        ),
        ("nan_literal_amount", "malformed_record", _json(e(14, amount=float("nan")))),
        (
            "infinity_overflow_amount",
            "malformed_record",
            _json(e(15)).replace(b'"amount": 1.5', b'"amount": 1e999'),
        ),
        ("json_array", "not_json_object", b'[{"tx_id": "tx_hostile_016"}]'),
        ("json_string", "not_json_object", b'"tx_hostile_017"'),
        ("json_null", "not_json_object", b"null"),
        ("oversize_by_one_byte", "oversize_record", _padded_to(max_record_bytes + 1, 18)),
        ("non_utf8_bytes", "not_utf8", _json(e(19)).replace(b"coinex", b"coin\xff\xfeex")),
        # --- fields
        ("missing_tx_id", "missing_field", _json(e(20, tx_id=...))),
        ("null_wallet_id", "missing_field", _json(e(21, wallet_id=None))),
        ("blank_tx_id", "missing_field", _json(e(22, tx_id="   "))),
        ("amount_as_string", "wrong_type", _json(e(23, amount="1.5"))),
        ("amount_as_bool", "wrong_type", _json(e(24, amount=True))),
        ("tx_id_as_number", "wrong_type", _json(e(25, tx_id=25))),
        ("wallet_id_as_object", "wrong_type", _json(e(26, wallet_id={"id": "w_hostile_026"}))),
        ("event_time_garbage", "bad_timestamp", _json(e(27, event_time="yesterday"))),
        (
            "event_time_other_offset",
            "bad_timestamp",
            _json(e(28, event_time="2026-03-02T08:15:30+01:00")),
        ),
        ("event_time_digits_as_string", "bad_timestamp", _json(e(29, event_time=str(T)))),
        (
            "event_time_before_2009",
            "timestamp_out_of_range",
            _json(e(30, event_time="2008-12-31T23:59:59Z")),
        ),
        ("event_time_epoch_zero", "timestamp_out_of_range", _json(e(31, event_time=0))),
        (
            "event_time_far_future",
            "timestamp_in_future",
            _json(e(32, event_time="2999-01-01T00:00:00Z")),
        ),
        ("unknown_tx_type", "bad_enum", _json(e(33, tx_type="refund"))),
        ("tx_type_wrong_case", "bad_enum", _json(e(34, tx_type="WITHDRAWAL"))),
        ("unknown_asset", "unknown_asset", _json(e(35, asset="PEPE"))),
        ("negative_amount", "bad_amount", _json(e(36, amount=-1.5))),
        ("zero_amount", "bad_amount", _json(e(37, amount=0))),
        ("negative_amount_usd", "bad_amount", _json(e(38, amount_usd=-0.01))),
        ("absurd_amount", "amount_too_large", _json(e(39, amount=1e15))),
        ("absurd_amount_usd", "amount_too_large", _json(e(40, amount_usd=1e18))),
        ("bell_in_tx_id", "control_characters", _json(e(41, tx_id="tx_\x07_041"))),
        ("newline_in_wallet_id", "control_characters", _json(e(42, wallet_id="w_\n042"))),
        ("rtl_override_in_device_id", "control_characters", _json(e(43, device_id="d_\u202e43"))),
        ("nul_in_venue", "control_characters", _json(e(44, venue="coinex\x00"))),
        ("tx_id_too_long", "field_too_long", _json(e(45, tx_id="t" * 129))),
        ("ip_out_of_range", "bad_ip", _json(e(46, ip="999.1.1.1"))),
        ("sql_injection_in_ip", "bad_ip", _json(e(47, ip="1.1.1.1' OR 1=1 --"))),
        ("country_name_not_code", "bad_country", _json(e(48, country="Germany"))),
    ]
    # --- state: one wallet each, in this order
    original = _json(e(50))
    rows += [
        ("resend_original", "valid", original),
        ("exact_resend", "duplicate", original),
        ("same_tx_id_other_amount", "duplicate_conflict", _json(e(50, amount=2.5))),
    ]
    late = "w_hostile_late"
    rows += [
        ("newest_event_of_wallet", "valid", _json(e(51, wallet_id=late, event_time=T + 2 * HOUR))),
        (
            "out_of_order_within_lateness",
            "valid",
            _json(e(52, wallet_id=late, event_time=T + HOUR)),
        ),
        ("later_than_allowed_lateness", "too_late", _json(e(53, wallet_id=late, event_time=T))),
    ]
    return rows


def tx_id_of(line: bytes) -> str:
    """The record's tx_id as the manifest lists it ("" when it has no string tx_id)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return ""
    value = obj.get("tx_id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else ""


def render(max_record_bytes: int) -> tuple[bytes, str]:
    """The corpus file's bytes and the manifest's text."""
    rows = corpus(max_record_bytes)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_FIELDS)
    for line_no, (kind, expected, line) in enumerate(rows, start=1):
        writer.writerow((line_no, kind, expected, tx_id_of(line)))
    return b"".join(line + b"\n" for _, _, line in rows), out.getvalue()


def read_manifest(path: Path = MANIFEST) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main() -> int:
    from pipeline.config import load_config

    data, manifest = render(load_config(environ={}).source.max_record_bytes)
    CORPUS_DIR.mkdir(exist_ok=True)
    CORPUS.write_bytes(data)
    MANIFEST.write_text(manifest, encoding="utf-8")
    print(f"{CORPUS} ({len(data):,} bytes), {MANIFEST} ({manifest.count(chr(10)) - 1} records)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
