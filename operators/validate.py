"""Parse a raw record (CSV line or JSON object) and validate it against the event contract.

`contracts/transaction-event.v1.schema.json` is the contract; this is its fast, hand-written
check (a JSON-Schema validator per event would cost more than the whole pipeline's budget).
`tests/operators/test_validate.py` keeps the two in agreement.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from .event import EVENT_FIELDS, TX_TYPES, Transaction

# DLQ reason codes; `contracts/dlq-record.v1.schema.json` lists the same set.
MALFORMED_RECORD = "malformed_record"
EMPTY_RECORD = "empty_record"
OVERSIZE_RECORD = "oversize_record"
NOT_UTF8 = "not_utf8"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
BAD_TIMESTAMP = "bad_timestamp"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
BAD_ENUM = "bad_enum"
BAD_AMOUNT = "bad_amount"
UNKNOWN_ASSET = "unknown_asset"
BAD_IP = "bad_ip"
BAD_COUNTRY = "bad_country"
DUPLICATE_CONFLICT = "duplicate_conflict"
NOT_JSON_OBJECT = "not_json_object"
CONTROL_CHARACTERS = "control_characters"
FIELD_TOO_LONG = "field_too_long"
TIMESTAMP_IN_FUTURE = "timestamp_in_future"
AMOUNT_TOO_LARGE = "amount_too_large"
TOO_LATE_EVENT = "too_late"  # decided by dedupe (needs the wallet's state), not here

REASON_CODES = (
    MALFORMED_RECORD,
    EMPTY_RECORD,
    OVERSIZE_RECORD,
    NOT_UTF8,
    MISSING_FIELD,
    WRONG_TYPE,
    BAD_TIMESTAMP,
    TIMESTAMP_OUT_OF_RANGE,
    BAD_ENUM,
    BAD_AMOUNT,
    UNKNOWN_ASSET,
    BAD_IP,
    BAD_COUNTRY,
    DUPLICATE_CONFLICT,
    NOT_JSON_OBJECT,
    CONTROL_CHARACTERS,
    FIELD_TOO_LONG,
    TIMESTAMP_IN_FUTURE,
    AMOUNT_TOO_LARGE,
    TOO_LATE_EVENT,
)

REQUIRED_FIELDS = ("tx_id", "event_time", "tx_type", "wallet_id", "asset", "amount")
# Checked in this order (the first bad one gives the reason).
_OPTIONAL_FIELDS = (
    "counterparty_wallet",
    "chain",
    "tx_hash",
    "venue",
    "device_id",
    "ip",
    "country",
)
_N_FIELDS = len(EVENT_FIELDS)
_TX_TYPES = frozenset(TX_TYPES)
_COUNTRY_RE = re.compile(r"[A-Z]{2}\Z")
_ID_MAX_LEN = 128
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The contract's event_time pattern: ISO-8601 UTC, ending in Z or +00:00.
_ISO_UTC_RE = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,9})?(Z|\+00:00)\Z"
)
# A dotted quad exactly as `ipv4_to_int` accepts it (0-255, ASCII digits, no leading zeros):
# one regex call where the validator only needs a yes or no.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_RE = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
# What undecodable bytes become: lone surrogates (Python's surrogateescape) or U+FFFD (the
# JVM's replacement character).
_UNDECODABLE_RE = re.compile("[\ud800-\udfff\ufffd]")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a record is invalid: a reason code and a human-readable detail."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class ValidationLimits:
    """Bounds of a valid event. Times are epoch ms; `now_ms` is the validator's clock."""

    min_event_time_ms: int
    max_future_skew_ms: int
    max_amount: float
    max_record_bytes: int


def parse_record(raw: str, fmt: str) -> dict | Rejection:
    """Split a raw CSV line or JSON text into a field dict (values still untyped for CSV)."""
    if not raw or raw.isspace():  # the same test as `not raw.strip()`, without the copy
        return Rejection(EMPTY_RECORD, "empty record")
    if not raw.isascii() and _UNDECODABLE_RE.search(raw):
        return Rejection(NOT_UTF8, "record has bytes that are not UTF-8")
    if fmt == "csv":
        parts = raw.rstrip("\r\n").split(",")
        if len(parts) != _N_FIELDS:
            return Rejection(MALFORMED_RECORD, f"{len(parts)} CSV columns, expected {_N_FIELDS}")
        return {k: v or None for k, v in zip(EVENT_FIELDS, parts, strict=True)}  # "" -> None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return Rejection(MALFORMED_RECORD, f"invalid JSON: {e}")
    if not isinstance(obj, dict):
        return Rejection(NOT_JSON_OBJECT, f"JSON {type(obj).__name__}, expected an object")
    return obj


class Validator:
    """Turns a field dict into a typed `Transaction` or a `Rejection`.

    `lenient_numbers`: CSV carries every value as text, so numbers may arrive as strings;
    JSON must carry numbers as numbers (a string amount there is `wrong_type`).
    """

    __slots__ = ("_assets", "_limits")

    def __init__(self, limits: ValidationLimits, known_assets: frozenset[str]) -> None:
        self._limits = limits
        self._assets = known_assets

    def check_size(self, raw: str) -> Rejection | None:
        # Character count bounds the UTF-8 size from below; encode only near the limit.
        limit = self._limits.max_record_bytes
        if len(raw) > limit // 4 and len(raw.encode("utf-8", "surrogatepass")) > limit:
            return Rejection(OVERSIZE_RECORD, f"record larger than {limit} bytes")
        return None

    def validate(self, rec: dict, now_ms: int, lenient_numbers: bool) -> Transaction | Rejection:
        # The checks run in the contract's order (the first failing one gives the reason),
        # but each field is read once and the detailed message is only built on failure.
        get = rec.get
        tx_id = get("tx_id")
        event_time = get("event_time")
        tx_type = get("tx_type")
        wallet_id = get("wallet_id")
        asset = get("asset")
        amount = get("amount")
        if (
            tx_id is None
            or event_time is None
            or tx_type is None
            or wallet_id is None
            or asset is None
            or amount is None
        ):
            name = next(name for name in REQUIRED_FIELDS if get(name) is None)
            return Rejection(MISSING_FIELD, f"{name} is missing")
        rejection = (
            _id_rejection("tx_id", tx_id)
            or _id_rejection("wallet_id", wallet_id)
            or _id_rejection("tx_type", tx_type)
            or _id_rejection("asset", asset)
        )
        if rejection is not None:
            return rejection

        ts = parse_event_time(event_time, lenient_numbers)
        if isinstance(ts, Rejection):
            return ts
        limits = self._limits
        if ts < limits.min_event_time_ms:
            return Rejection(TIMESTAMP_OUT_OF_RANGE, f"event_time {ts} before the earliest valid")
        if ts > now_ms + limits.max_future_skew_ms:
            return Rejection(TIMESTAMP_IN_FUTURE, f"event_time {ts} too far past now ({now_ms})")

        if tx_type not in _TX_TYPES:
            return Rejection(BAD_ENUM, f"tx_type {tx_type[:40]!r} not one of {TX_TYPES}")
        if asset not in self._assets:
            return Rejection(UNKNOWN_ASSET, f"asset {asset[:20]!r} has no price reference")

        amount = _number(amount, lenient_numbers)
        if amount is None:
            return Rejection(WRONG_TYPE, "amount must be a number")
        if not (0.0 < amount <= limits.max_amount):  # also false for NaN
            return _amount_rejection("amount", amount, limits.max_amount)
        amount_usd = get("amount_usd")
        if amount_usd is not None:
            amount_usd = _number(amount_usd, lenient_numbers)
            if amount_usd is None:
                return Rejection(WRONG_TYPE, "amount_usd must be a number")
            if not (0.0 <= amount_usd <= limits.max_amount):
                return _amount_rejection("amount_usd", amount_usd, limits.max_amount)

        optional = tuple(map(get, _OPTIONAL_FIELDS))
        for value in optional:
            if value is not None and (
                not isinstance(value, str) or len(value) > _ID_MAX_LEN or not value.isprintable()
            ):
                return _optional_rejection(optional)
        counterparty, chain, tx_hash, venue, device_id, ip, country = optional
        if ip is not None and not _IPV4_RE.fullmatch(ip):
            return Rejection(BAD_IP, f"ip {ip[:40]!r} is not an IPv4 address")
        if country is not None and not _COUNTRY_RE.match(country):
            return Rejection(BAD_COUNTRY, f"country {country[:10]!r} is not ISO 3166 alpha-2")

        # Positional, in field order: a keyword call of 14 arguments costs twice as much.
        return Transaction(
            tx_id,
            ts,
            tx_type,
            wallet_id,
            counterparty,
            asset,
            amount,
            amount_usd,
            chain,
            tx_hash,
            venue,
            ip,
            country,
            device_id,
        )


def _id_rejection(name: str, value) -> Rejection | None:
    if not isinstance(value, str):
        return Rejection(WRONG_TYPE, f"{name} must be a string")
    if not value.strip() or len(value) > _ID_MAX_LEN or not value.isprintable():
        if not value.strip():
            return Rejection(MISSING_FIELD, f"{name} is blank")
        return _text_rejection(name, value)
    return None


def _text_rejection(name: str, value: str) -> Rejection:
    """Why a string field that is too long or not printable is rejected (one of them is)."""
    if len(value) > _ID_MAX_LEN:
        return Rejection(FIELD_TOO_LONG, f"{name} longer than {_ID_MAX_LEN} chars")
    bad = next(c for c in value if not c.isprintable())
    return Rejection(CONTROL_CHARACTERS, f"{name} holds unprintable U+{ord(bad):04X}")


def _optional_rejection(values: tuple) -> Rejection:
    """The rejection of the first bad value of `_OPTIONAL_FIELDS` (one is known to be bad)."""
    for name, value in zip(_OPTIONAL_FIELDS, values, strict=True):
        if value is not None and not isinstance(value, str):
            return Rejection(WRONG_TYPE, f"{name} must be a string or null")
        if value is not None and (len(value) > _ID_MAX_LEN or not value.isprintable()):
            return _text_rejection(name, value)
    raise AssertionError("no bad optional value")


def _amount_rejection(name: str, value: float, max_amount: float) -> Rejection:
    """An out-of-range amount: above the maximum (absurd), or zero/negative/NaN/infinite."""
    if math.isfinite(value) and value > max_amount:
        return Rejection(AMOUNT_TOO_LARGE, f"{name} {value!r} above {max_amount:g}")
    return Rejection(BAD_AMOUNT, f"{name} {value!r} not in (0, {max_amount:g}]")


def parse_event_time(value, lenient_numbers: bool = True) -> int | Rejection:
    """Epoch ms from an integer (ms) or an ISO-8601 UTC string."""
    if isinstance(value, bool):
        return Rejection(BAD_TIMESTAMP, "event_time must be epoch ms or ISO-8601")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return Rejection(BAD_TIMESTAMP, f"event_time {value!r} is not whole ms")
        return int(value)
    if not isinstance(value, str):
        return Rejection(BAD_TIMESTAMP, "event_time must be epoch ms or ISO-8601")
    if lenient_numbers and value.isascii() and value.isdigit():
        return int(value)
    # The contract's pattern first: fromisoformat also takes other offsets, week dates, …
    m = _ISO_UTC_RE.match(value)
    if m is None:
        return Rejection(BAD_TIMESTAMP, f"event_time {value[:40]!r} is not ISO-8601 UTC")
    # The pattern fixes every position up to the seconds and leaves only the calendar
    # (Feb 30th, year 0) to check: that, and the minute's epoch ms, come from a cache.
    minute_ms = _minute_ms(value[:16])
    if minute_ms is None:
        return Rejection(BAD_TIMESTAMP, f"event_time {value[:40]!r} is not ISO-8601")
    fraction = m[4]  # ".f" to ".fffffffff"; ms are its first three digits (truncated)
    ms = int((fraction[1:4] + "00")[:3]) if fraction else 0
    return minute_ms + int(value[17:19]) * 1000 + ms


_minute_cache: dict[str, int | None] = {}
_MINUTE_CACHE_MAX = 100_000  # ~70 days of distinct minutes; cleared when full


def _minute_ms(text: str) -> int | None:
    """Epoch ms of a pattern-checked "YYYY-MM-DDTHH:MM", None if no such calendar day."""
    try:
        return _minute_cache[text]
    except KeyError:
        pass
    try:
        dt = datetime.fromisoformat(text + "+00:00")
    except ValueError:
        ms = None
    else:
        delta = dt - _EPOCH
        ms = delta.days * 86_400_000 + delta.seconds * 1000
    if len(_minute_cache) >= _MINUTE_CACHE_MAX:
        _minute_cache.clear()
    _minute_cache[text] = ms
    return ms


def ipv4_to_int(ip: str) -> int | None:
    """The IPv4 address as an int, or None if it is not a dotted quad."""
    parts = ip.split(".")
    if len(parts) != 4:
        return None
    n = 0
    for p in parts:
        if not (p.isascii() and p.isdigit()) or len(p) > 3 or (len(p) > 1 and p[0] == "0"):
            return None
        v = int(p)
        if v > 255:
            return None
        n = (n << 8) | v
    return n


def _number(value, lenient: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if lenient and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
