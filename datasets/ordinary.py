"""Background activity of ordinary wallets, generated one hour-long slice at a time.

Volume follows each wallet's activity rate and the daily rhythm of its home country's
local hour; types, amounts (heavy-tailed, in USD) and assets depend on the segment.

Ordinary wallets must never do what the "ordinary wallets must never" column of
docs/typologies.md lists. `Guard` enforces every rule explicitly, with a margin over the
detector's default threshold so that rounding and out-of-order delivery cannot matter:

- velocity_burst: own events of a wallet are >= 60 s apart, so 7 of them span >= 6 min
  and no 5-min window holds more than 6.
- structuring: at most one transaction in [8 400, 10 100) USD per wallet per 25 h,
  counting both sides of internal transfers.
- rapid_in_out: within 35 min of an inbound >= 4 500 USD, outgoing < 75 % of it.
- peel_chain: within 6.5 h of an inbound >= 75 USD, no outgoing in [66, 99) % of it,
  so an inbound is never split into an onward and a peel (a peel of a smaller inbound
  would be < 15 USD, which ordinary wallets never send).
- round_trip: no transfer to a wallet that sent this wallet a transfer in the last 70 min.
- geo_jump: trips abroad keep the wallet silent for max(12 h, distance / 700 km/h) (see
  datasets.population), and every event carries the location's IP and country.
- fan_out_dusting: outgoing amounts are >= 15 USD.
- blocklist: external addresses are fresh or derived, never on the blocklist.
"""

from __future__ import annotations

import math
import random

import numpy as np

from datasets.population import (
    ACTIVE_TRADER,
    MERCHANT,
    RETAIL,
    SEGMENTS,
    WHALE,
    Population,
    home_venue,
    random_ip,
)
from datasets.records import (
    ADDRESS_RANDOM_BITS,
    MS_PER_DAY,
    MS_PER_HOUR,
    MS_PER_MINUTE,
    asset_decimals,
    derived_address,
    event_time_text,
    format_decimal,
    random_address,
    sub_seed,
    tx_hash,
    tx_id,
)
from datasets.refdata import Reference

# Ordinary type mix by segment, in this order (indices into TYPE_NAMES).
TYPE_NAMES = ("trade", "deposit", "withdrawal", "transfer")
TRADE, DEPOSIT, WITHDRAWAL, TRANSFER = range(4)
_TYPE_MIX = (
    (0.74, 0.08, 0.05, 0.13),  # retail
    (0.92, 0.03, 0.03, 0.02),  # active_trader
    (0.40, 0.05, 0.25, 0.30),  # merchant: converts and settles payments out
    (0.74, 0.11, 0.09, 0.06),  # whale
)
# Median USD value by segment and type; values are lognormal around it, and a small
# share gets a Pareto multiplier so the far tail is heavier than lognormal.
_USD_MEDIAN = (
    (120.0, 300.0, 250.0, 60.0),
    (1_500.0, 5_000.0, 4_000.0, 800.0),
    (800.0, 1_500.0, 3_000.0, 500.0),
    (40_000.0, 120_000.0, 100_000.0, 20_000.0),
)
_USD_SIGMA = 1.1
_PARETO_SHARE = 0.02
_PARETO_ALPHA = 1.6
_USD_MIN = 1.0
_USD_MAX = 20_000_000.0
# Asset mix by type (trades favour majors; transfers between customers are mostly stable).
_ASSET_MIX = {
    "trade": {"BTC": 28, "ETH": 22, "SOL": 10, "XRP": 8, "DOGE": 6, "ADA": 4, "LTC": 3,
              "USDT": 12, "USDC": 7},
    "deposit": {"BTC": 25, "ETH": 20, "SOL": 7, "XRP": 5, "DOGE": 3, "ADA": 2, "LTC": 3,
                "USDT": 25, "USDC": 10},
    "transfer": {"BTC": 15, "ETH": 15, "SOL": 5, "XRP": 5, "DOGE": 3, "ADA": 1, "LTC": 1,
                 "USDT": 35, "USDC": 20},
}  # fmt: skip
_ASSET_MIX["withdrawal"] = _ASSET_MIX["deposit"]

# Relative activity by local hour (0-23): quiet nights, busy evenings; mean 1.
_DIURNAL = np.array(
    [0.25, 0.15, 0.10, 0.10, 0.12, 0.20, 0.40, 0.70, 1.00, 1.20, 1.30, 1.35,
     1.40, 1.35, 1.30, 1.30, 1.35, 1.40, 1.50, 1.55, 1.50, 1.30, 0.90, 0.50]
)  # fmt: skip
_DIURNAL = _DIURNAL / _DIURNAL.mean()

# Shares of everyday choices.
_HOME_IP_SHARE = 0.85  # otherwise another address of the same country (mobile, wifi)
_PRIMARY_DEVICE_SHARE = 0.88
_OWN_ADDRESS_SHARE = {DEPOSIT: 0.6, WITHDRAWAL: 0.7}  # self-custody vs fresh third party
_OWN_ADDRESSES = 2  # self-custody addresses per wallet and chain
_PAYMENT_TO_MERCHANT_SHARE = 0.5  # retail transfers that pay a merchant
_DEX_SHARE = 0.15
_WHALE_OTC_SHARE = 0.40
_P2P_SHARE = 0.30
# active traders trade through the API (no device fingerprint), whales' OTC deals go
# through a desk: neither has a device id
_API_TRADE_SHARE = 0.7
_PICK_ATTEMPTS = 4

# Guard margins (see the module docstring; detector defaults in flink-conf/pipeline.toml).
MIN_OWN_GAP_MS = 60_000
BAND_USD = (8_400.0, 10_100.0)
BAND_MEMORY_MS = 25 * MS_PER_HOUR
OUTGOING_MIN_USD = 15.0
# inbounds that could be peeled: below this, a 20 % peel is under OUTGOING_MIN_USD
INBOUND_MIN_USD = OUTGOING_MIN_USD / 0.20
PEEL_MEMORY_MS = 6 * MS_PER_HOUR + 30 * MS_PER_MINUTE
ONWARD_RATIO = (0.66, 0.99)
RAPID_MIN_USD = 4_500.0
RAPID_MEMORY_MS = 35 * MS_PER_MINUTE
RAPID_RATIO = 0.75
ROUND_TRIP_MEMORY_MS = 70 * MS_PER_MINUTE
# step away from a forbidden interval's edge when moving an amount out of it
_EDGE_STEP = 0.03


def nearest_allowed(usd: float, forbidden: list[tuple[float, float]], floor: float) -> float | None:
    """The value closest to `usd` (in ratio) that is >= floor and in no [lo, hi) interval.

    Candidates are `usd`, `floor` and points just outside every interval edge; None when
    none is allowed.
    """
    candidates = [usd, floor]
    for lo, hi in forbidden:
        candidates.append(lo * (1 - _EDGE_STEP))
        if hi != math.inf:
            candidates.append(hi * (1 + _EDGE_STEP))
    best, best_distance = None, math.inf
    for value in candidates:
        if value < floor or any(lo <= value < hi for lo, hi in forbidden):
            continue
        distance = abs(math.log(value / usd))
        if distance < best_distance:
            best, best_distance = value, distance
    return best


class Guard:
    """Per-wallet memory that keeps ordinary wallets clear of every typology.

    All times are event-time epoch ms; memories are pruned as they age out, so the state
    is bounded by the wallets active within the longest memory (25 h).
    """

    def __init__(self, n_wallets: int) -> None:
        self.last_own = [-(1 << 62)] * n_wallets
        self.band_at: dict[int, int] = {}
        # wallet -> [(t, usd)] of inbound deposits and received transfers >= INBOUND_MIN_USD
        self.inbound: dict[int, list[tuple[int, float]]] = {}
        # wallet -> {sender: t} of received transfers
        self.senders: dict[int, dict[int, int]] = {}

    def may_act(self, wallet: int, t: int) -> bool:
        """Whether an own event at `t` keeps the wallet's events >= MIN_OWN_GAP_MS apart."""
        return t - self.last_own[wallet] >= MIN_OWN_GAP_MS

    def may_pay(self, wallet: int, receiver: int, t: int) -> bool:
        """Whether a transfer wallet -> receiver at `t` cannot look like a round trip."""
        sent_at = self.senders.get(wallet, {}).get(receiver)
        return sent_at is None or t - sent_at > ROUND_TRIP_MEMORY_MS

    def forbidden_usd(
        self, wallet: int, t: int, outgoing: bool, receiver: int
    ) -> list[tuple[float, float]]:
        """USD intervals the wallet's next transaction at `t` must avoid."""
        forbidden = []
        if self._band_recent(wallet, t) or (receiver >= 0 and self._band_recent(receiver, t)):
            forbidden.append(BAND_USD)
        if outgoing:
            for t_in, usd_in in self._recent_inbound(wallet, t):
                forbidden.append((ONWARD_RATIO[0] * usd_in, ONWARD_RATIO[1] * usd_in))
                if usd_in >= RAPID_MIN_USD and t - t_in <= RAPID_MEMORY_MS:
                    forbidden.append((RAPID_RATIO * usd_in, math.inf))
        return forbidden

    def record(self, wallet: int, t: int, tx_type: int, usd: float, receiver: int) -> None:
        """Remember a written transaction (`receiver` >= 0 for internal transfers)."""
        self.last_own[wallet] = t
        if BAND_USD[0] <= usd < BAND_USD[1]:
            self.band_at[wallet] = t
            if receiver >= 0:
                self.band_at[receiver] = t
        if tx_type == DEPOSIT and usd >= INBOUND_MIN_USD:
            self.inbound.setdefault(wallet, []).append((t, usd))
        elif tx_type == TRANSFER:
            self.senders.setdefault(receiver, {})[wallet] = t
            if usd >= INBOUND_MIN_USD:
                self.inbound.setdefault(receiver, []).append((t, usd))

    def prune(self, now: int) -> None:
        """Forget everything too old to matter at event time `now`."""
        self.band_at = {w: t for w, t in self.band_at.items() if now - t <= BAND_MEMORY_MS}
        self.inbound = {
            w: kept
            for w, entries in self.inbound.items()
            if (kept := [e for e in entries if now - e[0] <= PEEL_MEMORY_MS])
        }
        self.senders = {
            w: kept
            for w, senders in self.senders.items()
            if (kept := {s: t for s, t in senders.items() if now - t <= ROUND_TRIP_MEMORY_MS})
        }

    def _band_recent(self, wallet: int, t: int) -> bool:
        band_t = self.band_at.get(wallet)
        return band_t is not None and t - band_t <= BAND_MEMORY_MS

    def _recent_inbound(self, wallet: int, t: int) -> list[tuple[int, float]]:
        entries = self.inbound.get(wallet)
        if not entries:
            return []
        if t - entries[0][0] > PEEL_MEMORY_MS:
            entries[:] = [e for e in entries if t - e[0] <= PEEL_MEMORY_MS]
        return entries


class BackgroundActivity:
    """Ordinary events of the population, slice by slice, in event-time order."""

    def __init__(
        self,
        population: Population,
        ref: Reference,
        seed: int,
        events_per_hour: float,
        out_of_order_share: float,
    ) -> None:
        """`events_per_hour`: mean ordinary events per hour over a whole day."""
        self.pop = population
        self.ref = ref
        self.seed = seed
        self.salt = sub_seed(seed, "tx")
        self.out_of_order_share = out_of_order_share
        self.guard = Guard(population.n_ordinary)
        self.next_key = 0
        self.assets = list(ref.asset_chains)
        self.chains = [ref.asset_chains[a] for a in self.assets]
        self.decimals = [asset_decimals(a) for a in self.assets]
        n = population.n_ordinary
        activity = population.activity
        self.rate = activity * (events_per_hour / activity.sum())
        self.segment = np.asarray(population.segment[:n])
        offsets = [ref.countries[c].utc_offset_hours for c in population.home[:n]]
        self.utc_offset = np.asarray(offsets)
        self.type_cum = np.cumsum(_TYPE_MIX, axis=1)
        self.log_median = np.log(np.asarray(_USD_MEDIAN))
        mixes = [[_ASSET_MIX[name][a] for a in self.assets] for name in TYPE_NAMES]
        self.asset_cum = np.cumsum(mixes, axis=1) / np.sum(mixes, axis=1, keepdims=True)
        self.members = [np.flatnonzero(self.segment == s).tolist() for s in range(len(SEGMENTS))]
        self.merchants = self.members[MERCHANT]
        self.venues = [home_venue(c) for c in population.home]
        self.country_ranges = ref.ip_ranges

    def slice_events(self, start_ms: int, index: int) -> list[tuple[int, tuple, bool]]:
        """Ordinary events of the hour [start_ms, start_ms + 1 h), sorted by event time.

        Returns (event time ms, record, out_of_order) per event; out-of-order events are
        meant to be written 1-50 s of event time late.
        """
        rng = np.random.default_rng([self.seed, 3, index])
        r = random.Random(sub_seed(self.seed, "slice", index))
        wallets, times = self._draw_wallets_and_times(rng, start_ms)
        q = len(wallets)
        segment = self.segment[wallets]
        types = (rng.random(q)[:, None] > self.type_cum[segment]).sum(axis=1)
        usd = np.exp(self.log_median[segment, types] + _USD_SIGMA * rng.standard_normal(q))
        tail = rng.random(q) < _PARETO_SHARE
        usd[tail] *= 1.0 + rng.pareto(_PARETO_ALPHA, int(tail.sum()))
        usd = np.clip(usd, _USD_MIN, _USD_MAX)
        assets = (rng.random(q)[:, None] > self.asset_cum[types]).sum(axis=1)
        day = start_ms // MS_PER_DAY - self.ref.price_day0
        prices = [self.ref.prices[a][day] for a in self.assets]
        events = []
        for t, wallet, tx_type, value, asset in zip(
            times.tolist(),
            wallets.tolist(),
            types.tolist(),
            usd.tolist(),
            assets.tolist(),
            strict=True,
        ):
            event = self._event(r, t, wallet, tx_type, value, asset, prices[asset])
            if event is not None:
                events.append(event)
        if index % 24 == 0:
            self.guard.prune(start_ms)
        return events

    def _draw_wallets_and_times(self, rng: np.random.Generator, start_ms: int):
        """Which wallets act in this hour (Poisson volume), at uniform times, sorted."""
        hour = (start_ms // MS_PER_HOUR) % 24
        local_hour = np.floor(hour + self.utc_offset).astype(int) % 24
        weight = self.rate * _DIURNAL[local_hour]
        total = float(weight.sum())
        q = int(rng.poisson(total))
        if q == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        wallets = rng.choice(len(weight), q, p=weight / total)
        times = start_ms + rng.integers(0, MS_PER_HOUR, q)
        order = np.argsort(times, kind="stable")
        return wallets[order], times[order]

    def _event(
        self,
        r: random.Random,
        t: int,
        wallet: int,
        tx_type: int,
        usd: float,
        asset: int,
        price: float,
    ) -> tuple[int, tuple, bool] | None:
        """One guarded ordinary event, or None when no wallet of the segment may act."""
        wallet = self._available_wallet(r, wallet, t)
        if wallet < 0:
            return None
        receiver = -1
        if tx_type == TRANSFER:
            receiver = self._receiver(r, wallet, t)
            if receiver < 0:
                tx_type = TRADE
        outgoing = tx_type in (WITHDRAWAL, TRANSFER)
        if outgoing and usd < OUTGOING_MIN_USD:
            usd = OUTGOING_MIN_USD * (1 + r.random())
        forbidden = self.guard.forbidden_usd(wallet, t, outgoing, receiver)
        if forbidden:
            usd = nearest_allowed(usd, forbidden, OUTGOING_MIN_USD if outgoing else _USD_MIN)
            if usd is None:
                return None
        amount = format_decimal(usd / price, max_decimals=self.decimals[asset])
        self.guard.record(wallet, t, tx_type, float(amount) * price, receiver)
        record = self._record(r, t, wallet, tx_type, asset, amount, receiver)
        return t, record, r.random() < self.out_of_order_share

    def _available_wallet(self, r: random.Random, wallet: int, t: int) -> int:
        """`wallet`, or another of its segment, that may have an own event at `t`; else -1."""
        pop, guard = self.pop, self.guard
        members = self.members[pop.segment[wallet]]
        for _ in range(_PICK_ATTEMPTS):
            if guard.may_act(wallet, t) and not (
                wallet in pop.blocked and pop.is_blocked(wallet, t)
            ):
                return wallet
            wallet = members[int(r.random() * len(members))]
        return -1

    def _receiver(self, r: random.Random, wallet: int, t: int) -> int:
        """A customer wallet to pay at `t` (often a merchant for retail); -1 if none fits."""
        pop = self.pop
        pays_merchant = pop.segment[wallet] == RETAIL and r.random() < _PAYMENT_TO_MERCHANT_SHARE
        for _ in range(_PICK_ATTEMPTS):
            if pays_merchant and self.merchants:
                receiver = self.merchants[int(r.random() * len(self.merchants))]
            else:
                receiver = int(r.random() * pop.n_ordinary)
            if (
                receiver != wallet
                and not (receiver in pop.blocked and pop.is_blocked(receiver, t))
                and self.guard.may_pay(wallet, receiver, t)
            ):
                return receiver
        return -1

    def _record(
        self,
        r: random.Random,
        t: int,
        wallet: int,
        tx_type: int,
        asset: int,
        amount: str,
        receiver: int,
    ) -> tuple:
        """The contract record of an ordinary event."""
        pop = self.pop
        country = pop.location(wallet, t)
        chain = tx_hash_text = counterparty = ip = device = None
        if tx_type in (DEPOSIT, WITHDRAWAL):
            chain = self.chains[asset]
            tx_hash_text = tx_hash(chain, r.getrandbits(256))
            counterparty = self._external_address(r, wallet, chain, tx_type)
        elif tx_type == TRANSFER:
            counterparty = pop.wallet_ids[receiver]
        venue = self._venue(r, wallet, tx_type)
        if tx_type != DEPOSIT:
            # deposits arrive from the chain, without a customer session
            if country == pop.home[wallet] and r.random() < _HOME_IP_SHARE:
                ip = pop.home_ip[wallet]
            else:
                ip = random_ip(self.country_ranges[country], r)
            if not self._deviceless(r, wallet, tx_type, venue):
                device = pop.devices[wallet][0 if r.random() < _PRIMARY_DEVICE_SHARE else 1]
        key = self.next_key
        self.next_key += 1
        return (
            tx_id(key, self.salt),
            event_time_text(t, r.random()),
            TYPE_NAMES[tx_type],
            pop.wallet_ids[wallet],
            counterparty,
            self.assets[asset],
            amount,
            None,
            chain,
            tx_hash_text,
            venue,
            ip,
            country,
            device,
        )

    def _deviceless(self, r: random.Random, wallet: int, tx_type: int, venue: str) -> bool:
        """Whether the event comes without a device: API trading or an OTC desk deal."""
        if venue == "otc-desk":
            return True
        segment = self.pop.segment[wallet]
        return tx_type == TRADE and segment == ACTIVE_TRADER and r.random() < _API_TRADE_SHARE

    def _venue(self, r: random.Random, wallet: int, tx_type: int) -> str:
        """Where the event happens: the wallet's regional venue, a DEX, OTC or P2P."""
        if tx_type == TRADE:
            if self.pop.segment[wallet] == WHALE and r.random() < _WHALE_OTC_SHARE:
                return "otc-desk"
            if r.random() < _DEX_SHARE:
                return "dexswap"
        elif tx_type == TRANSFER and r.random() < _P2P_SHARE:
            return "p2p-hub"
        return self.venues[wallet]

    def _external_address(self, r: random.Random, wallet: int, chain: str, tx_type: int) -> str:
        """The wallet's own self-custody address, or a fresh third-party one."""
        if r.random() < _OWN_ADDRESS_SHARE[tx_type]:
            address = derived_address(chain, self.seed, wallet, r.randrange(_OWN_ADDRESSES))
        else:
            address = random_address(chain, r.getrandbits(ADDRESS_RANDOM_BITS))
        while address in self.ref.blocklist:  # astronomically unlikely, but it is a rule
            address = random_address(chain, r.getrandbits(ADDRESS_RANDOM_BITS))
        return address
