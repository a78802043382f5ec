"""Event and config factories shared by the tests: each test states only what matters.

Configs come from the defaults in flink-conf/pipeline.toml, so the tests exercise the
thresholds the pipeline ships with (docs/typologies.md).
"""

from __future__ import annotations

import itertools
import tomllib
from functools import cache
from pathlib import Path

from operators.detectors import CONFIG_CLASSES
from operators.event import EnrichedTransaction, Transaction, WalletEvent, wallet_views

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
