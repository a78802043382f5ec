"""Enrichment: USD value from the asset price table, wallet metadata, geo from the IP.

Reference data is small and bundled (`datasets/reference/`); it is loaded once per
operator instance (in `open()`), never per event.
"""

from __future__ import annotations

import csv
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from .event import EnrichedTransaction, Transaction
from .validate import ipv4_to_int

_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class WalletInfo:
    kyc_tier: int
    created_ms: int
    home_country: str | None


@dataclass(slots=True)
class ReferenceData:
    """Lookup tables. Prices are daily closes keyed by (asset, UTC day number)."""

    prices: dict[str, dict[int, float]]
    price_days: dict[str, tuple[int, int]]  # asset -> (first day, last day) in the table
    wallets: dict[str, WalletInfo]
    ip_starts: list[int]
    ip_ranges: list[tuple[int, int, str]]  # (start, end, country), sorted by start
    countries: dict[str, tuple[float, float]]  # country -> (lat, lon) centroid
    blocklist: dict[str, str]  # address -> category

    @property
    def assets(self) -> frozenset[str]:
        return frozenset(self.prices)

    def usd_price(self, asset: str, event_time_ms: int) -> float:
        """Daily close of `asset` on the event's UTC day; nearest day outside the table."""
        day = event_time_ms // _DAY_MS
        table = self.prices[asset]
        price = table.get(day)
        if price is None:
            first, last = self.price_days[asset]
            price = table[first if day < first else last]
        return price

    def country_of_ip(self, ip: str) -> str | None:
        n = ipv4_to_int(ip)
        if n is None:
            return None
        i = bisect_right(self.ip_starts, n) - 1
        if i >= 0:
            start, end, country = self.ip_ranges[i]
            if start <= n <= end:
                return country
        return None


def load_reference_data(ref_dir: Path, wallets_file: Path, blocklist_file: Path) -> ReferenceData:
    """Read the bundled reference CSVs (a few thousand rows; milliseconds)."""
    prices: dict[str, dict[int, float]] = {}
    for row in _rows(ref_dir / "prices.csv"):
        day = date.fromisoformat(row["date"]).toordinal() - _EPOCH_ORDINAL
        prices.setdefault(row["asset"], {})[day] = float(row["usd"])
    price_days = {a: (min(t), max(t)) for a, t in prices.items()}

    wallets = {
        row["wallet_id"]: WalletInfo(
            kyc_tier=int(row["kyc_tier"]),
            created_ms=_iso_ms(row["created_at"]),
            home_country=row["home_country"] or None,
        )
        for row in _rows(wallets_file)
    }
    ranges = sorted(
        (ipv4_to_int(r["start_ip"]), ipv4_to_int(r["end_ip"]), r["country"])
        for r in _rows(ref_dir / "ip_ranges.csv")
    )
    countries = {
        r["country"]: (float(r["lat"]), float(r["lon"])) for r in _rows(ref_dir / "countries.csv")
    }
    blocklist = {r["address"]: r["category"] for r in _rows(blocklist_file)}
    return ReferenceData(
        prices=prices,
        price_days=price_days,
        wallets=wallets,
        ip_starts=[r[0] for r in ranges],
        ip_ranges=ranges,
        countries=countries,
        blocklist=blocklist,
    )


_UNKNOWN_WALLET = WalletInfo(kyc_tier=0, created_ms=0, home_country=None)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class Enricher:
    """Adds reference data to a validated transaction."""

    __slots__ = ("_country_by_ip", "_ref")

    def __init__(self, reference: ReferenceData) -> None:
        self._ref = reference
        # ip -> country_of_ip(ip) (the reference data is fixed once loaded): parsing the
        # address and the range search cost more than the rest of enrich, and a wallet's
        # events mostly come from a few addresses.
        self._country_by_ip: dict[str, str | None] = {}

    def enrich(self, tx: Transaction) -> EnrichedTransaction:
        ref = self._ref
        ts = tx.event_time_ms
        price = ref.prices[tx.asset].get(ts // _DAY_MS)
        if price is None:  # outside the table: nearest day
            price = ref.usd_price(tx.asset, ts)
        # A source-supplied USD value wins: it is the execution price, ours is a daily close.
        usd = tx.amount_usd
        if usd is None:
            usd = tx.amount * price
        wallet = ref.wallets.get(tx.wallet_id)
        info = wallet or _UNKNOWN_WALLET
        ip = tx.ip
        country = self._country_of_ip(ip) if ip else None
        if country is None:
            country = tx.country
        latlon = ref.countries.get(country) if country else None
        cp = tx.counterparty_wallet
        # Positional, in field order (cheaper than keywords on this per-event path).
        return EnrichedTransaction(
            tx,
            usd,
            price,
            wallet is not None,
            info.kyc_tier,
            info.created_ms,
            info.home_country,
            country,
            latlon[0] if latlon else None,
            latlon[1] if latlon else None,
            ref.blocklist.get(cp) if cp else None,
        )

    def _country_of_ip(self, ip: str) -> str | None:
        cache = self._country_by_ip
        try:
            return cache[ip]
        except KeyError:
            pass
        if len(cache) >= _IP_CACHE_MAX:
            cache.clear()
        country = cache[ip] = self._ref.country_of_ip(ip)
        return country


_IP_CACHE_MAX = 100_000  # addresses remembered per operator instance; cleared when full


def _rows(path: Path):
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def _iso_ms(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)
