"""Reference tables in datasets/reference/: build them (deterministically) and load them.

The pipeline's enrichment reads the same files, so the generator always works from the
committed CSVs (`load_reference`), never from the builders directly: a USD value the
generator intends is exactly the one the enrichment will compute.

`python -m datasets.refdata` rewrites countries, ip_ranges, prices, assets and blocklist
(wallets.csv belongs to the committed sample: `python -m datasets.generator --sample`).
"""

from __future__ import annotations

import argparse
import csv
import ipaddress
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from datasets import REFERENCE_DIR
from datasets.records import MS_PER_DAY, STABLECOINS, derived_address, format_decimal

# Fixed seed of the committed reference tables; independent of the generator's --seed,
# because every dataset is enriched against the same tables.
REFERENCE_SEED = 2026

# code, name, centroid lat, centroid lon, UTC offset (h) of the most populous time zone
COUNTRIES = (
    ("US", "United States", 39.83, -98.58, -5.0),
    ("CA", "Canada", 56.13, -106.35, -5.0),
    ("MX", "Mexico", 23.63, -102.55, -6.0),
    ("BR", "Brazil", -14.24, -51.93, -3.0),
    ("AR", "Argentina", -38.42, -63.62, -3.0),
    ("GB", "United Kingdom", 54.0, -2.0, 0.0),
    ("NL", "Netherlands", 52.13, 5.29, 1.0),
    ("DE", "Germany", 51.17, 10.45, 1.0),
    ("FR", "France", 46.6, 2.21, 1.0),
    ("CH", "Switzerland", 46.82, 8.23, 1.0),
    ("ES", "Spain", 40.46, -3.75, 1.0),
    ("IT", "Italy", 41.87, 12.57, 1.0),
    ("PL", "Poland", 51.92, 19.15, 1.0),
    ("NG", "Nigeria", 9.08, 8.68, 1.0),
    ("UA", "Ukraine", 48.38, 31.17, 2.0),
    ("ZA", "South Africa", -30.56, 22.94, 2.0),
    ("TR", "Turkey", 38.96, 35.24, 3.0),
    ("AE", "United Arab Emirates", 23.42, 53.85, 4.0),
    ("IN", "India", 20.59, 78.96, 5.5),
    ("VN", "Vietnam", 14.06, 108.28, 7.0),
    ("SG", "Singapore", 1.35, 103.82, 8.0),
    ("HK", "Hong Kong", 22.32, 114.17, 8.0),
    ("KR", "South Korea", 35.91, 127.77, 9.0),
    ("JP", "Japan", 36.2, 138.25, 9.0),
    ("AU", "Australia", -25.27, 133.78, 10.0),
)

ASSET_CHAINS = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "SOL": "solana",
    "XRP": "xrpl",
    "DOGE": "dogecoin",
    "ADA": "cardano",
    "LTC": "litecoin",
    "USDT": "ethereum",
    "USDC": "ethereum",
}

# USD close on 2026-01-01 and daily log-return volatility of the random walk
_PRICE_START = {
    "BTC": (92_000.0, 0.028),
    "ETH": (3_100.0, 0.035),
    "SOL": (135.0, 0.045),
    "XRP": (2.1, 0.042),
    "DOGE": (0.15, 0.05),
    "ADA": (0.42, 0.045),
    "LTC": (85.0, 0.036),
}
_PRICE_YEAR = 2026
# share of each coin's daily move that is the common market factor (crypto is correlated)
_MARKET_SHARE = 0.6
# pull of the log price back to its start level per day, so a year stays plausible
_MEAN_REVERSION = 0.01

# Public-looking two-digit first octets of the synthetic IP blocks (no private or reserved
# ranges); short blocks keep the committed sample small.
_IP_FIRST_OCTETS = (23, 31, 37, 41, 45, 46, 62, 77, 78, 81, 85, 89, 91, 94, 95)
_IP_RANGES_PER_COUNTRY = 3
# block sizes: /18, /19 or /20 at the start of a /16
_IP_PREFIX_LENGTHS = (18, 19, 20)

_BLOCKLIST_SIZE = {"mixer": 16, "sanctioned": 24}
_BLOCKLIST_SOURCE = {"mixer": "synthetic-mixer-intel", "sanctioned": "synthetic-sanctions-list"}
_BLOCKLIST_CHAINS = ("ethereum", "bitcoin")

STATIC_TABLES = ("countries.csv", "ip_ranges.csv", "prices.csv", "assets.csv", "blocklist.csv")


@dataclass(frozen=True, slots=True)
class Country:
    """A country of the reference table; offsets ignore daylight saving time."""

    code: str
    name: str
    lat: float
    lon: float
    utc_offset_hours: float


@dataclass(frozen=True)
class Reference:
    """The reference tables as the generator uses them."""

    countries: dict[str, Country]
    # country -> inclusive (first, last) IPv4 addresses as integers
    ip_ranges: dict[str, list[tuple[int, int]]]
    asset_chains: dict[str, str]
    # asset -> daily USD close, index 0 = `price_day0` (days since the epoch)
    prices: dict[str, list[float]]
    price_day0: int
    # address -> "mixer" | "sanctioned"
    blocklist: dict[str, str]

    def price(self, asset: str, t_ms: int) -> float:
        """USD close of `asset` on the UTC date of `t_ms`: the enrichment's price."""
        index = t_ms // MS_PER_DAY - self.price_day0
        series = self.prices[asset]
        if not 0 <= index < len(series):
            raise KeyError(f"no {asset} price for epoch day {t_ms // MS_PER_DAY}")
        return series[index]

    def price_range_ms(self) -> tuple[int, int]:
        """[first, end) epoch milliseconds covered by the price table."""
        days = min(len(series) for series in self.prices.values())
        return self.price_day0 * MS_PER_DAY, (self.price_day0 + days) * MS_PER_DAY

    def distance_km(self, a: str, b: str) -> float:
        """Great-circle distance between two countries' centroids."""
        ca, cb = self.countries[a], self.countries[b]
        return haversine_km(ca.lat, ca.lon, cb.lat, cb.lon)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km on a sphere of radius 6371 km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def build_countries() -> list[dict[str, object]]:
    """Rows of countries.csv."""
    keys = ("country", "name", "lat", "lon", "utc_offset_hours")
    return [dict(zip(keys, row, strict=True)) for row in COUNTRIES]


def build_ip_ranges() -> list[dict[str, str]]:
    """Rows of ip_ranges.csv: a few disjoint blocks per country, sorted by start address.

    Every block starts a distinct /16 (at most 16 384 addresses), so none overlap.
    """
    rng = random.Random(REFERENCE_SEED)
    slash16s = rng.sample(
        [(a, b) for a in _IP_FIRST_OCTETS for b in range(1, 100)],
        len(COUNTRIES) * _IP_RANGES_PER_COUNTRY,
    )
    rows = []
    for i, (a, b) in enumerate(slash16s):
        network = ipaddress.IPv4Network(((a << 24) + (b << 16), rng.choice(_IP_PREFIX_LENGTHS)))
        rows.append(
            {
                "start_ip": str(network.network_address),
                "end_ip": str(network.broadcast_address),
                "country": COUNTRIES[i // _IP_RANGES_PER_COUNTRY][0],
            }
        )
    rows.sort(key=lambda row: int(ipaddress.IPv4Address(row["start_ip"])))
    return rows


def build_prices() -> list[dict[str, str]]:
    """Rows of prices.csv: a daily USD close for every date of 2026 and every asset.

    Coins follow a correlated, mildly mean-reverting log random walk from realistic
    levels; stablecoins wobble within +-0.3 % of 1 USD.
    """
    rng = np.random.default_rng(REFERENCE_SEED)
    first = date(_PRICE_YEAR, 1, 1)
    days = (date(_PRICE_YEAR + 1, 1, 1) - first).days
    market = rng.standard_normal(days)
    series = {}
    for asset, (start, vol) in _PRICE_START.items():
        own = rng.standard_normal(days)
        shocks = vol * (math.sqrt(_MARKET_SHARE) * market + math.sqrt(1 - _MARKET_SHARE) * own)
        log_level, levels = 0.0, []
        for day in range(days):
            log_level += shocks[day] - _MEAN_REVERSION * log_level if day else 0.0
            levels.append(start * math.exp(log_level))
        series[asset] = levels
    for asset in [a for a in ASSET_CHAINS if a in STABLECOINS]:
        series[asset] = list(np.clip(1.0 + 0.0007 * rng.standard_normal(days), 0.997, 1.003))
    return [
        {
            "date": (first + timedelta(days=day)).isoformat(),
            "asset": asset,
            "usd": format_decimal(float(series[asset][day]), significant=6),
        }
        for day in range(days)
        for asset in ASSET_CHAINS
    ]


def build_assets() -> list[dict[str, str]]:
    """Rows of assets.csv."""
    return [{"asset": asset, "chain": chain} for asset, chain in ASSET_CHAINS.items()]


def build_blocklist() -> list[dict[str, str]]:
    """Rows of blocklist.csv: synthetic mixer and sanctioned addresses (not real ones)."""
    rows = []
    for category, size in _BLOCKLIST_SIZE.items():
        for i in range(size):
            chain = _BLOCKLIST_CHAINS[i % len(_BLOCKLIST_CHAINS)]
            rows.append(
                {
                    "address": derived_address(chain, "blocklist", REFERENCE_SEED, category, i),
                    "category": category,
                    "source": _BLOCKLIST_SOURCE[category],
                }
            )
    return rows


_BUILDERS = {
    "countries.csv": build_countries,
    "ip_ranges.csv": build_ip_ranges,
    "prices.csv": build_prices,
    "assets.csv": build_assets,
    "blocklist.csv": build_blocklist,
}


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    """Write dict rows with a header, LF line ends, no quoting needed."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_static_reference(directory: Path = REFERENCE_DIR) -> None:
    """(Re)write every static reference table into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, build in _BUILDERS.items():
        write_csv(directory / name, build())


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _ip_int(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def load_reference(directory: Path = REFERENCE_DIR) -> Reference:
    """Load the committed reference tables of `directory`."""
    countries = {
        row["country"]: Country(
            row["country"],
            row["name"],
            float(row["lat"]),
            float(row["lon"]),
            float(row["utc_offset_hours"]),
        )
        for row in _read_rows(directory / "countries.csv")
    }
    ip_ranges: dict[str, list[tuple[int, int]]] = {code: [] for code in countries}
    for row in _read_rows(directory / "ip_ranges.csv"):
        ip_ranges[row["country"]].append((_ip_int(row["start_ip"]), _ip_int(row["end_ip"])))
    asset_chains = {row["asset"]: row["chain"] for row in _read_rows(directory / "assets.csv")}
    price_rows = _read_rows(directory / "prices.csv")
    day0 = date.fromisoformat(min(row["date"] for row in price_rows)).toordinal()
    prices: dict[str, list[float]] = {asset: [] for asset in asset_chains}
    for row in sorted(price_rows, key=lambda r: r["date"]):
        if date.fromisoformat(row["date"]).toordinal() - day0 != len(prices[row["asset"]]):
            raise ValueError(f"prices.csv has a gap before {row['date']} {row['asset']}")
        prices[row["asset"]].append(float(row["usd"]))
    blocklist = {row["address"]: row["category"] for row in _read_rows(directory / "blocklist.csv")}
    return Reference(
        countries=countries,
        ip_ranges=ip_ranges,
        asset_chains=asset_chains,
        prices=prices,
        price_day0=day0 - date(1970, 1, 1).toordinal(),
        blocklist=blocklist,
    )


def main(argv: list[str] | None = None) -> None:
    """CLI: rewrite the static reference tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=REFERENCE_DIR, help="output directory")
    args = parser.parse_args(argv)
    write_static_reference(args.dir)


if __name__ == "__main__":
    main()
