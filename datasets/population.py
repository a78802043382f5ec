"""The wallet population: segments, home countries, devices, IPs, activity rates, trips.

Wallets are addressed by an internal index: [0, n_ordinary) is the ordinary customer
population that generates background activity; dedicated wallets that exist only for
injected fraud (fresh peel-chain hops, mules) are appended after it. Public ids
(`w_000123`) are assigned at the end in account-creation order, as an exchange would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from datasets.records import (
    MS_PER_DAY,
    MS_PER_HOUR,
    device_id,
    iso_seconds,
    sub_seed,
    wallet_id,
)
from datasets.refdata import Reference

SEGMENTS = ("retail", "active_trader", "merchant", "whale")
RETAIL, ACTIVE_TRADER, MERCHANT, WHALE = range(len(SEGMENTS))
_SEGMENT_SHARES = (0.78, 0.12, 0.07, 0.03)
# relative daily activity of a segment; wallets vary around it (lognormal, sigma below)
_SEGMENT_ACTIVITY = (1.0, 8.0, 3.0, 2.0)
_ACTIVITY_SIGMA = 0.5
# P(kyc tier 0..3) by segment
_KYC_TIERS = (
    (0.07, 0.50, 0.40, 0.03),
    (0.0, 0.15, 0.60, 0.25),
    (0.0, 0.0, 0.30, 0.70),
    (0.0, 0.0, 0.20, 0.80),
)

# share of customers living in each country (roughly an international exchange's mix)
HOME_WEIGHTS = {
    "US": 14, "CA": 3, "MX": 3, "BR": 5, "AR": 3, "GB": 6, "NL": 3, "DE": 6, "FR": 4,
    "CH": 2, "ES": 3, "IT": 3, "PL": 3, "NG": 4, "UA": 3, "ZA": 2, "TR": 6, "AE": 2,
    "IN": 8, "VN": 5, "SG": 2, "HK": 2, "KR": 6, "JP": 4, "AU": 3,
}  # fmt: skip
_AMERICAS = frozenset({"US", "CA", "MX", "BR", "AR"})
_ASIA_PACIFIC = frozenset({"IN", "VN", "SG", "HK", "KR", "JP", "AU"})

# accounts were opened between ~7 years and a week before the data starts, more recently
# more often (the exponent > 1 skews ages toward young accounts)
_MIN_ACCOUNT_AGE_MS = 7 * MS_PER_DAY
_MAX_ACCOUNT_AGE_MS = 2_600 * MS_PER_DAY
_ACCOUNT_AGE_SKEW = 1.6

# Legitimate travel: per-wallet chance per week of a trip, trip length, and the travel
# time between countries. Travel must never look like geo_jump (> 900 km/h between
# consecutive events), so the wallet is silent for max(12 h, distance / 700 km/h).
_TRIPS_PER_WALLET_WEEK = 0.03
_TRIP_DAYS = (1.0, 4.0)
MIN_TRAVEL_GAP_MS = 12 * MS_PER_HOUR
TRAVEL_SPEED_KMH = 700.0


def home_venue(country: str) -> str:
    """The regional exchange venue of a customer living in `country`."""
    if country in _AMERICAS:
        return "coinex-us"
    if country in _ASIA_PACIFIC:
        return "coinex-ap"
    return "coinex-eu"


@dataclass(frozen=True, slots=True)
class Trip:
    """A trip abroad (epoch ms): in the air [depart, arrive) and [leave, back)."""

    depart: int
    arrive: int
    leave: int
    back: int
    country: str


@dataclass
class Population:
    """All wallets of a dataset; lists are indexed by internal wallet index."""

    n_ordinary: int
    segment: list[int]
    home: list[str]
    created_ms: list[int]
    kyc: list[int]
    devices: list[tuple[str, str]]
    home_ip: list[str]
    # relative activity of the ordinary wallets (datasets.ordinary scales it to events/h)
    activity: np.ndarray
    trips: dict[int, Trip] = field(default_factory=dict)
    # wallet -> [start, end) windows without own events: travel, and quarantine around
    # injected fraud so background activity never combines with an instance
    blocked: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    wallet_ids: list[str] = field(default_factory=list)
    device_salt: int = 0

    def block(self, wallet: int, start_ms: int, end_ms: int) -> None:
        """Forbid own ordinary events of `wallet` in [start_ms, end_ms)."""
        self.blocked.setdefault(wallet, []).append((start_ms, end_ms))

    def is_blocked(self, wallet: int, t_ms: int) -> bool:
        """True when `wallet` may not have an ordinary event at `t_ms`."""
        windows = self.blocked.get(wallet)
        return windows is not None and any(lo <= t_ms < hi for lo, hi in windows)

    def location(self, wallet: int, t_ms: int) -> str:
        """Country the wallet's owner is in at `t_ms` (home unless abroad on a trip)."""
        trip = self.trips.get(wallet)
        if trip is not None and trip.arrive <= t_ms < trip.leave:
            return trip.country
        return self.home[wallet]

    def add_wallet(self, segment: int, home: str, created_ms: int, kyc: int, home_ip: str) -> int:
        """Append a dedicated (non-ordinary) wallet; returns its internal index."""
        index = len(self.segment)
        self.segment.append(segment)
        self.home.append(home)
        self.created_ms.append(created_ms)
        self.kyc.append(kyc)
        self.devices.append(device_pair(index, self.device_salt))
        self.home_ip.append(home_ip)
        return index

    def assign_ids(self) -> None:
        """Give every wallet its public id, numbered in account-creation order."""
        order = sorted(range(len(self.created_ms)), key=lambda i: (self.created_ms[i], i))
        self.wallet_ids = [""] * len(order)
        for rank, index in enumerate(order):
            self.wallet_ids[index] = wallet_id(rank)

    def metadata_rows(self) -> list[tuple[str, str, int, str, str]]:
        """Rows of wallets.csv (wallet_id, created_at, kyc_tier, home_country, segment)."""
        rows = [
            (
                self.wallet_ids[i],
                iso_seconds(self.created_ms[i]),
                self.kyc[i],
                self.home[i],
                SEGMENTS[self.segment[i]],
            )
            for i in range(len(self.wallet_ids))
        ]
        rows.sort()
        return rows


def device_pair(index: int, salt: int) -> tuple[str, str]:
    """A wallet's usual devices: a primary and an occasional second one."""
    return device_id(2 * index, salt), device_id(2 * index + 1, salt)


def random_ip(ranges: list[tuple[int, int]], rng: random.Random) -> str:
    """A uniformly random dotted-quad address of a country's IP ranges."""
    total = sum(last - first + 1 for first, last in ranges)
    offset = int(rng.random() * total)
    for first, last in ranges:
        size = last - first + 1
        if offset < size:
            x = first + offset
            return f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}"
        offset -= size
    raise AssertionError("offset beyond the ranges")


def build_population(
    n_wallets: int, start_ms: int, end_ms: int, ref: Reference, seed: int
) -> Population:
    """The ordinary population of `n_wallets` for data spanning [start_ms, end_ms)."""
    rng = np.random.default_rng([seed, 1])
    countries = list(HOME_WEIGHTS)
    weights = np.array([HOME_WEIGHTS[c] for c in countries], dtype=float)
    segment = rng.choice(len(SEGMENTS), n_wallets, p=_SEGMENT_SHARES)
    home_index = rng.choice(len(countries), n_wallets, p=weights / weights.sum())
    activity = np.array(_SEGMENT_ACTIVITY)[segment] * rng.lognormal(0.0, _ACTIVITY_SIGMA, n_wallets)
    ages = _MIN_ACCOUNT_AGE_MS + _MAX_ACCOUNT_AGE_MS * rng.random(n_wallets) ** _ACCOUNT_AGE_SKEW
    kyc_u = rng.random(n_wallets)
    kyc_cum = np.cumsum(_KYC_TIERS, axis=1)
    kyc = (kyc_u[:, None] > kyc_cum[segment]).sum(axis=1)
    ip_rng = random.Random(sub_seed(seed, "home-ip"))
    home = [countries[i] for i in home_index]
    device_salt = sub_seed(seed, "device")
    population = Population(
        n_ordinary=n_wallets,
        segment=segment.tolist(),
        home=home,
        created_ms=(start_ms - ages.astype(np.int64)).tolist(),
        kyc=kyc.tolist(),
        devices=[device_pair(i, device_salt) for i in range(n_wallets)],
        home_ip=[random_ip(ref.ip_ranges[c], ip_rng) for c in home],
        activity=activity,
        device_salt=device_salt,
    )
    _plan_trips(population, start_ms, end_ms, ref, seed)
    return population


def _plan_trips(
    population: Population, start_ms: int, end_ms: int, ref: Reference, seed: int
) -> None:
    """Send a few wallets abroad once, silent while travelling (see TRAVEL_SPEED_KMH)."""
    rng = random.Random(sub_seed(seed, "trips"))
    weeks = (end_ms - start_ms) / (7 * MS_PER_DAY)
    p_trip = min(0.3, _TRIPS_PER_WALLET_WEEK * weeks)
    countries = list(HOME_WEIGHTS)
    weights = list(HOME_WEIGHTS.values())
    for wallet in range(population.n_ordinary):
        if rng.random() >= p_trip:
            continue
        home = population.home[wallet]
        destination = home
        while destination == home:
            destination = rng.choices(countries, weights)[0]
        hours = ref.distance_km(home, destination) / TRAVEL_SPEED_KMH
        gap = max(MIN_TRAVEL_GAP_MS, int(hours * MS_PER_HOUR))
        depart = start_ms + int(rng.random() * (end_ms - start_ms))
        arrive = depart + gap
        leave = arrive + int(rng.uniform(*_TRIP_DAYS) * MS_PER_DAY)
        trip = Trip(depart, arrive, leave, leave + gap, destination)
        population.trips[wallet] = trip
        population.block(wallet, trip.depart, trip.arrive)
        population.block(wallet, trip.leave, trip.back)
