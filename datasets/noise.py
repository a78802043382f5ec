"""Noise a real feed has: duplicates, late (out-of-order) events and malformed records.

Shares are per record; the generator applies them to ordinary events only, except that
any valid record (fraud included) may be duplicated. Each malformed record has exactly
one defect, so its dead-letter reason is unambiguous, and its own tx_id (or none).
Damage draws the same random numbers in both formats, so a CSV and a JSON-lines run of
the same arguments hold the same records.
"""

from __future__ import annotations

import json
import random

from datasets.records import MS_PER_DAY, MS_PER_SECOND, csv_line, field_index, iso_ms
from operators.event import EVENT_FIELDS

DUPLICATE_SHARE = 0.01
# a duplicate is written again this much event time after the original's event time
DUPLICATE_DELAY_MS = (200, 20 * MS_PER_SECOND)
OUT_OF_ORDER_SHARE = 0.02
OUT_OF_ORDER_DELAY_MS = (1 * MS_PER_SECOND, 50 * MS_PER_SECOND)
MALFORMED_SHARE = 0.005

# malformed kind -> the DLQ reason the pipeline must give it (contracts/dlq-record.v1)
MALFORMED_REASONS = (
    "malformed_record",
    "missing_field",
    "wrong_type",
    "bad_amount",
    "bad_enum",
    "bad_timestamp",
    "timestamp_out_of_range",
    "unknown_asset",
    "bad_ip",
    "bad_country",
)

_TX_ID = field_index("tx_id")
_EVENT_TIME = field_index("event_time")
_TX_TYPE = field_index("tx_type")
_WALLET = field_index("wallet_id")
_ASSET = field_index("asset")
_AMOUNT = field_index("amount")
_IP = field_index("ip")
_COUNTRY = field_index("country")
_NUMBER_FIELDS = frozenset({_AMOUNT, field_index("amount_usd")})

_NOT_NUMBERS = ("ten", "12.5.3", "1e", "abc", "0x1F")
_BAD_ENUMS = ("refund", "swap", "airdrop", "stake")
# not ISO-8601 (the contract's pattern rejects all of them) nor epoch milliseconds
_BAD_TIMES = ("yesterday", "2026-13-45T99:61:00Z", "02/03/2026 08:15", "2026-03-02 25:00:00")
# 18 years before the data: 2008, before the Bitcoin genesis block (the validation minimum)
_YEARS_BACK_MS = round(18 * 365.25) * MS_PER_DAY
# well-formed (pattern ^[A-Z0-9]{2,10}$) but not in assets.csv
_UNKNOWN_ASSETS = ("PEPE", "SHIB", "TRX", "FOO1")
_BAD_IPS = ("300.12.4.1", "10.0.0", "abc.def.1.2", "192.168.1.256", "1.2.3.4.5")
# not ISO 3166 alpha-2 codes (the contract's pattern ^[A-Z]{2}$ rejects all of them)
_BAD_COUNTRIES = ("usa", "D3", "Germany", "u", "XXX")
_MISSING = object()  # a field left out of a JSON object


class Malformed:
    """A malformed record: the text line, what the labels say, why the DLQ takes it."""

    __slots__ = ("line", "reason", "tx_id", "wallet_id")

    def __init__(self, line: str, tx_id: str, wallet_id: str, reason: str) -> None:
        self.line = line
        self.tx_id = tx_id
        self.wallet_id = wallet_id
        self.reason = reason


def malformed(
    template: tuple[str | None, ...], new_tx_id: str, t_ms: int, fmt: str, r: random.Random
) -> Malformed:
    """Damage a copy of a valid record (given a fresh tx_id) in one randomly chosen way.

    `t_ms` is the template's event time; `fmt` is "csv" or "jsonl".
    """
    reason = r.choice(MALFORMED_REASONS)
    fields: list = list(template)
    fields[_TX_ID] = new_tx_id
    quote_amount = False
    if reason == "malformed_record":
        return Malformed(_broken_line(fields, fmt, r), new_tx_id, fields[_WALLET], reason)
    if reason == "missing_field":
        fields[r.choice((_TX_ID, _WALLET))] = _MISSING if fmt == "jsonl" else None
    elif reason == "wrong_type":
        fields[_AMOUNT], quote_amount = r.choice(_NOT_NUMBERS), True
    elif reason == "bad_amount":
        bad = r.choice(("0", "-" + fields[_AMOUNT], "NaN"))
        # NaN is no JSON number: JSON lines get the negative amount instead
        fields[_AMOUNT] = "-" + fields[_AMOUNT] if bad == "NaN" and fmt == "jsonl" else bad
    elif reason == "bad_enum":
        fields[_TX_TYPE] = r.choice(_BAD_ENUMS)
    elif reason == "bad_timestamp":
        fields[_EVENT_TIME] = r.choice(_BAD_TIMES)
    elif reason == "timestamp_out_of_range":
        past = t_ms - _YEARS_BACK_MS
        fields[_EVENT_TIME] = str(past) if r.random() < 0.5 else iso_ms(past)
    elif reason == "unknown_asset":
        fields[_ASSET] = r.choice(_UNKNOWN_ASSETS)
    elif reason == "bad_ip":
        fields[_IP] = r.choice(_BAD_IPS)
    else:
        fields[_COUNTRY] = r.choice(_BAD_COUNTRIES)
    line = _json(fields, quote_amount) if fmt == "jsonl" else csv_line(fields)
    return Malformed(line, _label(fields[_TX_ID]), _label(fields[_WALLET]), reason)


def _label(value: object) -> str:
    """A field as the labels file shows it: empty when missing."""
    return value if isinstance(value, str) else ""


def _broken_line(fields: list, fmt: str, r: random.Random) -> str:
    """A line no parser can map onto the contract: wrong column count or broken JSON."""
    u = r.random()
    if fmt == "jsonl":
        text = _json(fields, False)
        return text[: 10 + int(u * (len(text) - 20))] + "\n"
    return csv_line(fields[:-1]) if u < 0.5 else csv_line([*fields, "extra"])


def _json(fields: list, quote_amount: bool) -> str:
    """A JSON object of the fields; amounts stay numbers unless `quote_amount`."""
    parts = []
    for i, (name, value) in enumerate(zip(EVENT_FIELDS, fields, strict=True)):
        if value is _MISSING:
            continue
        if value is None:
            text = "null"
        elif (i in _NUMBER_FIELDS and not quote_amount) or (i == _EVENT_TIME and value.isdigit()):
            text = value
        else:
            text = json.dumps(value)
        parts.append(f'"{name}":{text}')
    return "{" + ",".join(parts) + "}\n"
