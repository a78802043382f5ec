"""Enrichment: USD value from the daily close, wallet metadata, geo from the IP, blocklist.

Expectations are read from the reference CSVs here, independently of the loader.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from functools import cache

import pytest

from operators.enrich import Enricher
from operators.event import Transaction
from tests.factories import components

CFG = components().cfg
REF_DIR = CFG.resolve(CFG.reference.dir)
DAY = 86_400_000


def rows(name: str) -> list[dict]:
    with (REF_DIR / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@cache
def closes() -> dict[tuple[str, date], float]:
    return {
        (r["asset"], date.fromisoformat(r["date"])): float(r["usd"]) for r in rows("prices.csv")
    }


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def enrich(**fields):
    base = dict(
        tx_id="tx-1",
        event_time_ms=ms("2026-03-02T08:15:30Z"),
        tx_type="withdrawal",
        wallet_id="w_000000",
        counterparty_wallet="0x1111111111111111111111111111111111111111",
        asset="BTC",
        amount=0.5,
    )
    return Enricher(components().reference).enrich(Transaction(**{**base, **fields}))


def ip_int(ip: str) -> int:
    a, b, c, d = (int(p) for p in ip.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def ip_text(n: int) -> str:
    return ".".join(str((n >> s) & 255) for s in (24, 16, 8, 0))


# ---------------------------------------------------------------- USD value


@pytest.mark.parametrize("asset", sorted({a for a, _ in closes()}))
def test_amount_usd_is_amount_times_the_daily_close_of_the_events_utc_day(asset):
    event = enrich(asset=asset, amount=2.5, event_time_ms=ms("2026-05-17T13:00:00Z"))

    close = closes()[(asset, date(2026, 5, 17))]
    assert event.price_usd == close
    assert event.amount_usd == pytest.approx(2.5 * close, rel=1e-12)


def test_utc_day_boundary_switches_to_the_next_close():
    last_ms = enrich(event_time_ms=ms("2026-03-02T23:59:59.999Z"))
    next_day = enrich(event_time_ms=ms("2026-03-03T00:00:00Z"))

    assert closes()[("BTC", date(2026, 3, 2))] != closes()[("BTC", date(2026, 3, 3))]
    assert last_ms.price_usd == closes()[("BTC", date(2026, 3, 2))]
    assert next_day.price_usd == closes()[("BTC", date(2026, 3, 3))]


def test_every_day_of_the_table_is_used_for_its_own_day():
    for (asset, day), close in closes().items():
        if asset == "ETH":
            noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
            assert enrich(asset=asset, event_time_ms=int(noon.timestamp() * 1000)).price_usd == (
                close
            ), day


def test_source_supplied_amount_usd_wins_over_the_daily_close():
    event = enrich(amount=0.5, amount_usd=31_234.5)

    assert event.amount_usd == 31_234.5
    assert event.price_usd == closes()[("BTC", date(2026, 3, 2))]


def test_source_supplied_zero_usd_is_kept():
    assert enrich(amount_usd=0.0).amount_usd == 0.0


@pytest.mark.parametrize(
    ("when", "table_day"),
    [
        ("2025-12-31T23:59:59.999Z", date(2026, 1, 1)),
        ("2009-01-03T00:00:00Z", date(2026, 1, 1)),
        ("2027-01-01T00:00:00Z", date(2026, 12, 31)),
        ("2031-06-01T00:00:00Z", date(2026, 12, 31)),
    ],
)
def test_outside_the_price_table_the_nearest_day_is_used(when, table_day):
    days = sorted(d for a, d in closes() if a == "BTC")
    assert (days[0], days[-1]) == (date(2026, 1, 1), date(2026, 12, 31))

    event = enrich(event_time_ms=ms(when), amount=2.0)

    assert event.price_usd == closes()[("BTC", table_day)]
    assert event.amount_usd == pytest.approx(2.0 * closes()[("BTC", table_day)])


def test_every_asset_of_assets_csv_has_prices():
    assert {r["asset"] for r in rows("assets.csv")} == components().reference.assets


# ---------------------------------------------------------------- geo


def test_ip_resolves_to_the_country_of_its_range_at_both_ends():
    ranges = rows("ip_ranges.csv")
    starts = {ip_int(r["start_ip"]) for r in ranges}
    ends = {ip_int(r["end_ip"]) for r in ranges}
    reference = components().reference

    for r in ranges:
        start, end = ip_int(r["start_ip"]), ip_int(r["end_ip"])
        for n in (start, (start + end) // 2, end):
            assert reference.country_of_ip(ip_text(n)) == r["country"], ip_text(n)
        if start - 1 not in ends:
            assert reference.country_of_ip(ip_text(start - 1)) is None
        if end + 1 not in starts:
            assert reference.country_of_ip(ip_text(end + 1)) is None


def test_ip_country_wins_over_the_country_field_and_gives_its_centroid():
    de = next(r for r in rows("ip_ranges.csv") if r["country"] == "DE")
    centroid = next(r for r in rows("countries.csv") if r["country"] == "DE")

    event = enrich(ip=de["start_ip"], country="FR")

    assert event.geo_country == "DE"
    assert (event.geo_lat, event.geo_lon) == (float(centroid["lat"]), float(centroid["lon"]))


def test_ip_outside_every_range_falls_back_to_the_country_field():
    assert components().reference.country_of_ip("1.1.1.1") is None

    event = enrich(ip="1.1.1.1", country="SG")

    assert event.geo_country == "SG"
    assert (event.geo_lat, event.geo_lon) == (1.35, 103.82)


def test_without_ip_the_country_field_is_used():
    event = enrich(ip=None, country="US")

    assert (event.geo_country, event.geo_lat, event.geo_lon) == ("US", 39.83, -98.58)


def test_without_ip_and_country_there_is_no_geo():
    event = enrich(ip=None, country=None)

    assert (event.geo_country, event.geo_lat, event.geo_lon) == (None, None, None)


def test_country_without_centroid_has_no_coordinates():
    event = enrich(ip=None, country="ZZ")

    assert (event.geo_country, event.geo_lat, event.geo_lon) == ("ZZ", None, None)


# ---------------------------------------------------------------- wallet, blocklist


def test_known_wallet_carries_its_metadata():
    row = next(r for r in rows("wallets.csv") if r["wallet_id"] == "w_000000")

    event = enrich(wallet_id="w_000000")

    assert event.wallet_known is True
    assert event.wallet_kyc_tier == int(row["kyc_tier"])
    assert event.wallet_created_ms == ms(row["created_at"])
    assert event.wallet_home_country == row["home_country"]


def test_unknown_wallet_is_marked_unknown_with_neutral_metadata():
    event = enrich(wallet_id="w_not_in_wallets_csv")

    assert event.wallet_known is False
    assert (event.wallet_kyc_tier, event.wallet_created_ms, event.wallet_home_country) == (
        0,
        0,
        None,
    )


@pytest.mark.parametrize("category", ["mixer", "sanctioned"])
@pytest.mark.parametrize("tx_type", ["withdrawal", "deposit"])
def test_blocklisted_counterparty_gets_its_category(category, tx_type):
    address = next(r["address"] for r in rows("blocklist.csv") if r["category"] == category)

    event = enrich(tx_type=tx_type, counterparty_wallet=address)

    assert event.counterparty_blocklist == category


def test_every_blocklist_entry_is_recognised():
    for r in rows("blocklist.csv"):
        assert enrich(counterparty_wallet=r["address"]).counterparty_blocklist == r["category"]


def test_ordinary_counterparty_and_trade_without_one_are_not_blocklisted():
    assert (
        enrich(
            counterparty_wallet="0x2222222222222222222222222222222222222222"
        ).counterparty_blocklist
        is None
    )
    assert enrich(tx_type="trade", counterparty_wallet=None).counterparty_blocklist is None


def test_enrichment_keeps_the_transaction():
    event = enrich(tx_id="tx-keep", amount=0.25)

    assert (event.tx.tx_id, event.tx.amount) == ("tx-keep", 0.25)
