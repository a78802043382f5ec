"""Event and config factories shared by the tests: each test states only what matters.

Configs come from the defaults in flink-conf/pipeline.toml, so the tests exercise the
thresholds the pipeline ships with (docs/typologies.md).
"""

from __future__ import annotations

import csv
import itertools
import json
import tomllib
from functools import cache
from pathlib import Path

from operators.detectors import CONFIG_CLASSES
from operators.event import (
    EVENT_FIELDS,
    EnrichedTransaction,
    Transaction,
    WalletEvent,
    wallet_views,
)

PIPELINE_TOML = Path(__file__).resolve().parents[1] / "flink-conf" / "pipeline.toml"

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z, epoch ms
SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

WALLET = "w-subject"
# Country centroids (lat, lon) as enrichment resolves them.
BERLIN = (51.17, 10.45)  # DE
PARIS = (46.23, 2.21)  # FR, ~ 820 km from DE
SINGAPORE = (1.35, 103.82)  # SG, ~ 10 000 km from DE

_tx_ids = itertools.count(1)
_AUTO = object()


@cache
def detector_sections() -> dict:
    """rule_id -> `[detectors.<rule_id>]` table of pipeline.toml (the defaults)."""
    with PIPELINE_TOML.open("rb") as f:
        return tomllib.load(f)["detectors"]


def detector_config(rule_id: str, **overrides):
    """The `[detectors.<rule_id>]` config of pipeline.toml, with `overrides` applied."""
    section = {**detector_sections()[rule_id], **overrides}
    return CONFIG_CLASSES[rule_id](**section)


def all_detector_configs(**per_rule_overrides: dict) -> dict:
    """rule_id -> config for every `[detectors.*]` section, e.g. `geo_jump={"enabled": False}`."""
    return {
        rule_id: detector_config(rule_id, **per_rule_overrides.get(rule_id, {}))
        for rule_id in detector_sections()
    }


def make_tx(
    *,
    ts: int = T0,
    tx_type: str = "trade",
    wallet: str = WALLET,
    counterparty: str | None = _AUTO,
    usd: float = 100.0,
    **fields,
) -> Transaction:
    """A transaction; non-trades get a counterparty address unless one is given."""
    if counterparty is _AUTO:
        counterparty = None if tx_type == "trade" else "0xcounterparty"
    return Transaction(
        tx_id=f"tx-{next(_tx_ids)}",
        event_time_ms=ts,
        tx_type=tx_type,
        wallet_id=wallet,
        counterparty_wallet=counterparty,
        asset=fields.pop("asset", "USDT"),
        amount=fields.pop("amount", usd),
        amount_usd=usd,
        **fields,
    )


def make_enriched(
    tx: Transaction | None = None,
    *,
    geo: tuple[float, float] | None = None,
    blocklist: str | None = None,
    **tx_fields,
) -> EnrichedTransaction:
    """An enriched transaction (of `tx`, or of `make_tx(**tx_fields)`); `geo` = (lat, lon)."""
    if tx is None:
        tx = make_tx(**tx_fields)
    lat, lon = geo if geo is not None else (None, None)
    return EnrichedTransaction(
        tx=tx,
        amount_usd=tx.amount_usd,
        price_usd=1.0,
        wallet_known=True,
        wallet_kyc_tier=2,
        wallet_created_ms=T0 - 365 * 24 * HOUR,
        wallet_home_country="DE",
        geo_country=None if geo is None else "XX",
        geo_lat=lat,
        geo_lon=lon,
        counterparty_blocklist=blocklist,
    )


def own_view(
    tx_type: str = "trade",
    *,
    ts: int = T0,
    usd: float = 100.0,
    counterparty: str | None = _AUTO,
    wallet: str = WALLET,
    geo: tuple[float, float] | None = None,
    blocklist: str | None = None,
) -> WalletEvent:
    """`wallet`'s own view of one of its transactions."""
    event = make_enriched(
        geo=geo,
        blocklist=blocklist,
        ts=ts,
        tx_type=tx_type,
        wallet=wallet,
        counterparty=counterparty,
        usd=usd,
    )
    return wallet_views(event)[0]


def mirrored_view(
    *,
    ts: int = T0,
    usd: float = 100.0,
    sender: str = "w-sender",
    wallet: str = WALLET,
    geo: tuple[float, float] | None = None,
    blocklist: str | None = None,
) -> WalletEvent:
    """`wallet`'s mirrored (inbound) view of an internal transfer `sender` made to it."""
    event = make_enriched(
        geo=geo,
        blocklist=blocklist,
        ts=ts,
        tx_type="transfer",
        wallet=sender,
        counterparty=wallet,
        usd=usd,
    )
    _, mirrored = wallet_views(event)
    assert mirrored.mirrored and mirrored.wallet_id == wallet
    return mirrored


def feed(detector, state, views) -> list:
    """Run `views` through `detector`; the list of its results (Hit or None), one per view."""
    return [detector.on_event(state, view) for view in views]


def fired_at(results: list) -> list[int]:
    """Indices of the views that raised a hit."""
    return [i for i, hit in enumerate(results) if hit is not None]


# ---------------------------------------------------------------- raw records, pipeline

# A valid event as the source sends it (contract field names, JSON types): a withdrawal of
# a known wallet (w_000000, home DE) from a German IP, on 2026-03-02.
RAW_EVENT = {
    "tx_id": "tx_00000000000000a1",
    "event_time": "2026-03-02T08:15:30.123Z",
    "tx_type": "withdrawal",
    "wallet_id": "w_000000",
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
RAW_EVENT_MS = 1_772_439_330_123  # RAW_EVENT's event_time


def raw_event(**overrides) -> dict:
    """`RAW_EVENT` with `overrides`; a value of `...` leaves the field out."""
    event = {**RAW_EVENT, **overrides}
    return {k: v for k, v in event.items() if v is not ...}


def csv_record(**overrides) -> str:
    """A CSV data row of `raw_event(**overrides)` (None and left-out fields are empty)."""
    event = raw_event(**overrides)
    return ",".join("" if event.get(k) is None else str(event[k]) for k in EVENT_FIELDS)


def json_record(**overrides) -> str:
    """A JSON line of `raw_event(**overrides)` (non-ASCII text kept as is)."""
    return json.dumps(raw_event(**overrides), ensure_ascii=False)


def record(fmt: str, **overrides) -> str:
    return csv_record(**overrides) if fmt == "csv" else json_record(**overrides)


@cache
def components(fmt: str = "csv", overrides: tuple[tuple[str, object], ...] = ()):
    """The pipeline's plain-Python operators for the shipped config (FRAUD_* env ignored),
    reading `fmt` records, with dotted-key `overrides` as (key, value) pairs."""
    from pipeline.components import Components
    from pipeline.config import load_config

    return Components(load_config({"source.format": fmt, **dict(overrides)}, environ={}))


@cache
def sample_replay():
    """The offline replay of the committed sample with the shipped config and model (once)."""
    from datasets.generator import SAMPLE_TRANSACTIONS
    from pipeline.offline import iter_records, replay

    comps = components("csv")
    assert comps.cfg.resolve(comps.cfg.source.path) == SAMPLE_TRANSACTIONS
    return replay(iter_records(SAMPLE_TRANSACTIONS), comps)


@cache
def sample_labels() -> tuple[dict, ...]:
    """The rows of datasets/fraud_labels.csv, in file order (record_no 1, 2, ...)."""
    from datasets.generator import SAMPLE_LABELS

    with SAMPLE_LABELS.open(newline="", encoding="utf-8") as f:
        return tuple(csv.DictReader(f))
