"""Record encoding shared by every part of the generator: ids, addresses, numbers, lines.

A record is a tuple of 14 `str | None` values in `EVENT_FIELDS` order (the contract's
field order); `None` is a null (an empty CSV field). Numbers are kept as the exact text
that is written, so what the pipeline parses is what the generator reasoned about.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime

from operators.event import EVENT_FIELDS

MS_PER_SECOND = 1_000
MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000

_MASK64 = (1 << 64) - 1
_MASK24 = (1 << 24) - 1

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

# chain -> (prefix, alphabet, number of characters after the prefix); shapes follow the
# real address formats closely enough to look familiar, nothing validates checksums.
_ADDRESS_SHAPES = {
    "ethereum": ("0x", "0123456789abcdef", 40),
    "bitcoin": ("bc1q", _BECH32, 38),
    "litecoin": ("ltc1q", _BECH32, 38),
    "solana": ("", _BASE58, 44),
    "xrpl": ("r", _BASE58, 33),
    "dogecoin": ("D", _BASE58, 33),
    "cardano": ("addr1q", _BECH32, 52),
}
# random bits needed by random_address(): 52 bytes cover the longest shape
ADDRESS_RANDOM_BITS = 416
# byte -> alphabet character, so that random bytes become an address in one translate()
_ADDRESS_TABLES = {
    chain: bytes.maketrans(
        bytes(range(256)), bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))
    )
    for chain, (_, alphabet, _) in _ADDRESS_SHAPES.items()
}

# share of event times written as epoch ms rather than ISO text (the contract allows both)
EPOCH_TIME_SHARE = 0.05

# event-time prefixes "YYYY-MM-DDTHH:" by epoch hour; formatting through datetime for
# every record would cost more than the rest of the record together.
_HOUR_PREFIXES: dict[int, str] = {}
_HOUR_PREFIX_CACHE_MAX = 4096

_FIELD_INDEX = {name: i for i, name in enumerate(EVENT_FIELDS)}
# Fields written as JSON numbers (event_time only when it is epoch milliseconds).
_JSON_NUMBERS = frozenset({_FIELD_INDEX["amount"], _FIELD_INDEX["amount_usd"]})
_EVENT_TIME = _FIELD_INDEX["event_time"]


def field_index(name: str) -> int:
    """Position of a contract field in a record tuple."""
    return _FIELD_INDEX[name]


def sub_seed(*parts: object) -> int:
    """A 64-bit seed derived from any printable parts, stable across processes.

    Python's hash() of strings is salted per process, so it cannot seed reproducible
    streams; a cryptographic digest of the parts' repr can.
    """
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def mix64(x: int) -> int:
    """SplitMix64 finalizer: a bijection on 64-bit integers that scrambles the bits.

    Distinct inputs give distinct outputs, so ids derived from distinct counters are
    unique by construction, yet look random.
    """
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def mix24(x: int) -> int:
    """A bijection on 24-bit integers (xorshift-multiply rounds), for short unique ids."""
    x &= _MASK24
    x = ((x ^ (x >> 12)) * 0x9E3779B1) & _MASK24
    x = ((x ^ (x >> 11)) * 0x85EBCA77) & _MASK24
    return x ^ (x >> 12)


def tx_id(key: int, salt: int) -> str:
    """`tx_` + 16 hex digits; unique for distinct `key`s under one `salt` (the run's seed)."""
    return f"tx_{mix64((key ^ salt) & _MASK64):016x}"


def device_id(key: int, salt: int) -> str:
    """`d_` + 6 hex digits; unique for distinct `key`s below 2**24 under one `salt`."""
    if not 0 <= key <= _MASK24:
        raise ValueError(f"device key {key} outside 24 bits")
    return f"d_{mix24(key ^ (salt & _MASK24)):06x}"


def wallet_id(rank: int) -> str:
    """Customer wallet id; ranks follow account creation order, like an exchange's ids."""
    return f"w_{rank:06d}"


def address_from_bytes(chain: str, raw: bytes) -> str:
    """An external address in `chain`'s format built from `raw` (at least 52 bytes)."""
    prefix, _, length = _ADDRESS_SHAPES[chain]
    return prefix + raw[:length].translate(_ADDRESS_TABLES[chain]).decode("ascii")


def derived_address(chain: str, *parts: object) -> str:
    """A stable external address for `parts` (e.g. a wallet's own self-custody address)."""
    raw = hashlib.blake2b(repr(parts).encode(), digest_size=64).digest()
    return address_from_bytes(chain, raw)


def random_address(chain: str, bits: int) -> str:
    """A fresh external address from `bits` = getrandbits(ADDRESS_RANDOM_BITS)."""
    return address_from_bytes(chain, bits.to_bytes(52, "little"))


def tx_hash(chain: str, bits: int) -> str:
    """An on-chain transaction hash from 256 random bits; `0x`-prefixed on ethereum."""
    text = f"{bits:064x}"
    return "0x" + text if chain == "ethereum" else text


STABLECOINS = frozenset({"USDT", "USDC"})


def asset_decimals(asset: str) -> int:
    """Decimal places an amount of `asset` keeps: cents for stablecoins, 8 for coins."""
    return 2 if asset in STABLECOINS else 8


def format_decimal(value: float, significant: int = 5, max_decimals: int = 8) -> str:
    """Plain decimal text (no exponent) with at most `significant` digits.

    Trailing zeros are dropped: 0.00000625, 1234.5, 98000. Five significant digits are
    within 0.005 % of the value, finer than any threshold the detectors apply. Raises
    ValueError when the value is not positive or rounds to zero at `max_decimals`.
    """
    if not value > 0 or math.isinf(value):
        raise ValueError(f"not a positive finite amount: {value!r}")
    if max_decimals >= significant + 2 and 1e-3 <= value < 10**significant:
        # fast path: %g gives the same digits here, as long as it picks no exponent
        text = f"{value:.{significant}g}"
        if "e" not in text:
            return text
    exponent = math.floor(math.log10(value))
    decimals = min(max_decimals, max(0, significant - 1 - exponent))
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "0":
        raise ValueError(f"{value!r} rounds to zero at {max_decimals} decimals")
    return text


def iso_ms(t_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2026-03-02T08:15:30.123Z."""
    hour, rest = divmod(t_ms, MS_PER_HOUR)
    prefix = _HOUR_PREFIXES.get(hour)
    if prefix is None:
        if len(_HOUR_PREFIXES) >= _HOUR_PREFIX_CACHE_MAX:
            _HOUR_PREFIXES.clear()
        prefix = datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H:")
        _HOUR_PREFIXES[hour] = prefix
    minute, rest = divmod(rest, MS_PER_MINUTE)
    second, milli = divmod(rest, MS_PER_SECOND)
    return f"{prefix}{minute:02d}:{second:02d}.{milli:03d}Z"


def event_time_text(t_ms: int, u: float) -> str:
    """event_time as written: epoch ms for a uniform draw `u` < EPOCH_TIME_SHARE, else ISO."""
    return str(t_ms) if u < EPOCH_TIME_SHARE else iso_ms(t_ms)


def iso_seconds(t_ms: int) -> str:
    """ISO-8601 UTC to the second, e.g. 2024-05-06T12:34:56Z (wallet metadata)."""
    return datetime.fromtimestamp(t_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date_ms(text: str) -> int:
    """Epoch milliseconds of midnight UTC of a YYYY-MM-DD date."""
    day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(day.timestamp()) * 1000


def csv_line(record: tuple[str | None, ...]) -> str:
    """A CSV data line; values never contain commas or quotes, so none are quoted."""
    return ",".join([value or "" for value in record]) + "\n"


def json_line(record: tuple[str | None, ...]) -> str:
    """A JSON-lines object with the record's fields in contract order.

    Values are ids, codes and numbers without quotes or backslashes, so they are written
    as they are; amounts (and epoch-millisecond event times) become JSON numbers.
    """
    parts = []
    for key, kind, value in zip(_JSON_KEYS, _JSON_KINDS, record, strict=True):
        if value is None:
            parts.append(key + "null")
        elif kind == _NUMBER or (kind == _TIME and value.isdigit()):
            parts.append(key + value)
        else:
            parts.append(key + '"' + value + '"')
    return "{" + ",".join(parts) + "}\n"


_NUMBER, _TIME = 1, 2
_JSON_KEYS = tuple(f'"{name}":' for name in EVENT_FIELDS)  # built once, not per record
_JSON_KINDS = tuple(
    _NUMBER if i in _JSON_NUMBERS else _TIME if i == _EVENT_TIME else 0
    for i in range(len(EVENT_FIELDS))
)


def csv_header() -> str:
    """The CSV header line: the contract's field names."""
    return ",".join(EVENT_FIELDS) + "\n"
