"""Injected fraud: labelled instances of the eight typologies of docs/typologies.md.

Every instance follows the "generator instance" column of that table. Instances are
planned up front (who, when, how big) and turned into records only when the stream
reaches them, so memory holds just the instances in flight.

Population wallets acting in an instance are quarantined: they have no ordinary events
from 25 h before it starts to 25 h after it can end, longer than every detector window,
so background activity never completes, breaks or blurs an instance's pattern. Beyond
the documented pattern, instances are shaped not to complete other typologies either
(e.g. a peel hop forwards funds > 30 min after receiving them, so it is not also a
rapid_in_out), which keeps each instance's expected rule unambiguous.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from datasets import ConfigError
from datasets.ordinary import BAND_USD, ONWARD_RATIO, nearest_allowed
from datasets.population import (
    ACTIVE_TRADER,
    HOME_WEIGHTS,
    RETAIL,
    Population,
    home_venue,
    random_ip,
)
from datasets.records import (
    ADDRESS_RANDOM_BITS,
    MS_PER_DAY,
    MS_PER_HOUR,
    MS_PER_MINUTE,
    MS_PER_SECOND,
    asset_decimals,
    device_id,
    event_time_text,
    format_decimal,
    random_address,
    sub_seed,
    tx_hash,
    tx_id,
)
from datasets.refdata import Reference

TYPOLOGIES = (
    "velocity_burst",
    "structuring",
    "rapid_in_out",
    "peel_chain",
    "round_trip",
    "geo_jump",
    "fan_out_dusting",
    "blocklist",
)
# instances of each typology per 1 000 records at --fraud-rate 1 (16 in a 40k dataset)
INSTANCES_PER_1000_EVENTS = 0.4
QUARANTINE_MS = 25 * MS_PER_HOUR
# instances start >= 1 h after the data starts and end before its last 30 h
START_MARGIN_MS = MS_PER_HOUR
END_MARGIN_MS = 30 * MS_PER_HOUR

# Timing and value ranges of each typology (docs/typologies.md, "generator instance").
VELOCITY_EVENTS = (12, 20)
VELOCITY_SPAN_MS = (60 * MS_PER_SECOND, 240 * MS_PER_SECOND)
VELOCITY_USD = (25.0, 3_000.0)
STRUCTURING_EVENTS = (3, 6)
STRUCTURING_SPAN_MS = (2 * MS_PER_HOUR, 20 * MS_PER_HOUR)
STRUCTURING_USD = (9_000.0, 9_950.0)
RAPID_DEPOSIT_USD = (6_000.0, 80_000.0)
RAPID_OUT_RATIO = (0.85, 0.99)
RAPID_DELAY_MS = (2 * MS_PER_MINUTE, 25 * MS_PER_MINUTE)
PEEL_HOPS = (4, 8)
PEEL_FIRST_USD = (8_000.0, 60_000.0)
# every hop must receive at least the detector's min_inbound_usd
PEEL_MIN_INBOUND_USD = 1_000.0
PEEL_RATIO = (0.03, 0.12)
PEEL_DELAY_MS = (5 * MS_PER_MINUTE, 90 * MS_PER_MINUTE)
ONWARD_KEEP_RATIO = (0.97, 0.995)
ONWARD_DELAY_MS = (5 * MS_PER_MINUTE, 60 * MS_PER_MINUTE)
# a hop forwards > 30 min after its deposit, so it is no rapid_in_out as well
ONWARD_AFTER_DEPOSIT_MS = 33 * MS_PER_MINUTE
CONFIRMATION_DELAY_MS = (1 * MS_PER_MINUTE, 10 * MS_PER_MINUTE)
HOP_AGE_MS = (1 * MS_PER_HOUR, 72 * MS_PER_HOUR)
ROUND_TRIP_ROUNDS = (2, 4)
ROUND_TRIP_USD = (1_500.0, 30_000.0)
# sent amounts avoid this widened structuring band, and so do the 97-100 % returns
ROUND_TRIP_AVOID_USD = (8_400.0, 10_500.0)
ROUND_TRIP_BACK_RATIO = (0.97, 1.0)
ROUND_TRIP_BACK_DELAY_MS = (5 * MS_PER_MINUTE, 40 * MS_PER_MINUTE)
ROUND_TRIP_PAUSE_MS = (10 * MS_PER_MINUTE, 120 * MS_PER_MINUTE)
GEO_MIN_DISTANCE_KM = 3_000.0
GEO_AWAY_EVENTS = (1, 3)
GEO_FIRST_AWAY_DELAY_MS = (5 * MS_PER_MINUTE, 60 * MS_PER_MINUTE)
GEO_NEXT_AWAY_DELAY_MS = (2 * MS_PER_MINUTE, 20 * MS_PER_MINUTE)
DUST_EVENTS = (25, 60)
DUST_SPAN_MS = (10 * MS_PER_MINUTE, 50 * MS_PER_MINUTE)
DUST_USD = (0.5, 8.0)
# >= 45 s between dust withdrawals (+-10 % jitter): at most 9 per 5 min, no velocity_burst
DUST_MIN_GAP_MS = 45 * MS_PER_SECOND
DUST_GAP_JITTER = 0.1
BLOCKLIST_EVENTS = (1, 3)
BLOCKLIST_USD = (300.0, 25_000.0)
# >= 35 min between blocklist transactions, so a deposit + withdrawal is no rapid_in_out
BLOCKLIST_GAP_MS = (35 * MS_PER_MINUTE, 6 * MS_PER_HOUR)

# Typology -> longest duration (ms) of an instance of a given size, for quarantine.
_MAX_DURATION_MS: dict[str, Callable[[int], int]] = {
    "velocity_burst": lambda size: VELOCITY_SPAN_MS[1],
    "structuring": lambda size: STRUCTURING_SPAN_MS[1],
    "rapid_in_out": lambda size: RAPID_DELAY_MS[1],
    "peel_chain": lambda size: (
        size * (PEEL_DELAY_MS[1] + ONWARD_DELAY_MS[1] + CONFIRMATION_DELAY_MS[1])
    ),
    "round_trip": lambda size: size * (ROUND_TRIP_BACK_DELAY_MS[1] + ROUND_TRIP_PAUSE_MS[1]),
    "geo_jump": lambda size: GEO_FIRST_AWAY_DELAY_MS[1] + size * GEO_NEXT_AWAY_DELAY_MS[1],
    "fan_out_dusting": lambda size: DUST_SPAN_MS[1],
    "blocklist": lambda size: size * BLOCKLIST_GAP_MS[1],
}

# Typology -> number of transactions of an instance of a given size.
_EVENT_COUNT: dict[str, Callable[[int], int]] = {
    "velocity_burst": lambda size: size,
    "structuring": lambda size: size,
    "rapid_in_out": lambda size: size,
    "peel_chain": lambda size: 3 * size,
    "round_trip": lambda size: 2 * size,
    "geo_jump": lambda size: 1 + size,
    "fan_out_dusting": lambda size: size,
    "blocklist": lambda size: size,
}

_TRADE_ASSETS = ("BTC", "ETH", "SOL", "XRP", "DOGE")
# fraud tx ids: key = _FRAUD_KEY_BASE | serial << 16 | event number
_FRAUD_KEY_BASE = 1 << 62
# attacker device keys (above every wallet's 2 * index + 1)
_ATTACKER_DEVICE_BASE = 1 << 23


@dataclass(frozen=True)
class Instance:
    """A planned instance: `size` is its main shape parameter (events, hops, rounds)."""

    typology: str
    number: int
    serial: int
    start_ms: int
    wallets: tuple[int, ...]
    size: int
    seed: int

    @property
    def instance_id(self) -> str:
        return f"{self.typology}-{self.number:04d}"

    @property
    def n_events(self) -> int:
        """How many transactions the instance has."""
        return _EVENT_COUNT[self.typology](self.size)


@dataclass(frozen=True, slots=True)
class Draft:
    """One fraud transaction before it gets its id and text form."""

    t: int
    tx_type: str
    wallet: int
    counterparty: str | None
    asset: str
    amount: str
    ip: str | None
    country: str
    device: str | None
    # on-chain hash shared with another record (a peel hop's onward = next hop's deposit)
    shared_hash: str | None = None


def instances_per_typology(events: int, fraud_rate: float) -> int:
    """How many instances of each typology a dataset of `events` records gets."""
    return round(fraud_rate * INSTANCES_PER_1000_EVENTS * events / 1000)


class _ActorPool:
    """Population wallets that may act in an instance: retail or active traders that do
    not travel (a trip's country change must not mix with an instance). Each acts once."""

    def __init__(self, pop: Population, rng: random.Random) -> None:
        self.pop = pop
        self.free = [
            w
            for w in range(pop.n_ordinary)
            if pop.segment[w] in (RETAIL, ACTIVE_TRADER) and w not in pop.trips
        ]
        rng.shuffle(self.free)

    def take(self, home: str | None = None) -> int:
        """A free wallet, living in `home` when one does."""
        if not self.free:
            raise ConfigError("not enough wallets for the fraud instances: lower --fraud-rate")
        if home is not None:
            for i in range(len(self.free) - 1, -1, -1):
                if self.pop.home[self.free[i]] == home:
                    return self.free.pop(i)
        return self.free.pop()


def plan_instances(
    n_per_typology: int, start_ms: int, end_ms: int, pop: Population, ref: Reference, seed: int
) -> list[Instance]:
    """Plan every instance, add its dedicated wallets and quarantine its actors.

    Returns the instances sorted by start time.
    """
    rng = random.Random(sub_seed(seed, "plan"))
    pool = _ActorPool(pop, rng)
    first, last = start_ms + START_MARGIN_MS, end_ms - END_MARGIN_MS
    if n_per_typology and last <= first:
        raise ConfigError("the data must span at least 31 h to hold fraud instances")
    instances = []
    for typology in TYPOLOGIES:
        starts = sorted(rng.randrange(first, last) for _ in range(n_per_typology))
        for number, start in enumerate(starts, 1):
            wallets, size = _PLANNERS[typology](rng, pool, pop, ref, start)
            instance = Instance(
                typology,
                number,
                len(instances),
                start,
                wallets,
                size,
                sub_seed(seed, typology, number),
            )
            instances.append(instance)
            end = start + _MAX_DURATION_MS[typology](size)
            for wallet in wallets:
                if wallet < pop.n_ordinary:
                    pop.block(wallet, start - QUARANTINE_MS, end + QUARANTINE_MS)
    instances.sort(key=lambda i: (i.start_ms, i.serial))
    return instances


# A planner picks an instance's wallets and size: (rng, pool, pop, ref, start ms) ->
# (wallets, size). It may add dedicated wallets to the population.
Planner = Callable[
    [random.Random, _ActorPool, Population, Reference, int], tuple[tuple[int, ...], int]
]


def _plan_single(size_range: tuple[int, int]) -> Planner:
    """Planner of a typology acted by one population wallet; size drawn from the range."""

    def plan(rng, pool, pop, ref, start):
        return (pool.take(),), rng.randint(*size_range)

    return plan


def _plan_velocity(rng, pool, pop, ref, start):
    """The actor, plus a mule wallet that receives the burst's transfers."""
    actor = pool.take()
    home = rng.choices(list(HOME_WEIGHTS), list(HOME_WEIGHTS.values()))[0]
    created = start - rng.randint(2 * MS_PER_DAY, 30 * MS_PER_DAY)
    mule = pop.add_wallet(RETAIL, home, created, 1, random_ip(ref.ip_ranges[home], rng))
    return (actor, mule), rng.randint(*VELOCITY_EVENTS)


def _plan_peel(rng, pool, pop, ref, start):
    """Fresh hop wallets of one operator (same country, opened hours before the chain)."""
    hops = rng.randint(*PEEL_HOPS)
    home = rng.choices(list(HOME_WEIGHTS), list(HOME_WEIGHTS.values()))[0]
    ip = random_ip(ref.ip_ranges[home], rng)
    # fresh accounts: KYC tier 0 (unverified) twice as often as tier 1
    wallets = tuple(
        pop.add_wallet(RETAIL, home, start - rng.randint(*HOP_AGE_MS), rng.choice((0, 0, 1)), ip)
        for _ in range(hops)
    )
    return wallets, hops


def _plan_round_trip(rng, pool, pop, ref, start):
    """Two related wallets of the same country."""
    first = pool.take()
    return (first, pool.take(pop.home[first])), rng.randint(*ROUND_TRIP_ROUNDS)


_PLANNERS: dict[str, Planner] = {
    "velocity_burst": _plan_velocity,
    "structuring": _plan_single(STRUCTURING_EVENTS),
    "rapid_in_out": _plan_single((2, 2)),  # a deposit and a withdrawal
    "peel_chain": _plan_peel,
    "round_trip": _plan_round_trip,
    "geo_jump": _plan_single(GEO_AWAY_EVENTS),
    "fan_out_dusting": _plan_single(DUST_EVENTS),
    "blocklist": _plan_single(BLOCKLIST_EVENTS),
}


class FraudKit:
    """Turns planned instances into records."""

    def __init__(self, pop: Population, ref: Reference, seed: int) -> None:
        self.pop = pop
        self.ref = ref
        self.salt = sub_seed(seed, "tx")
        self.device_salt = pop.device_salt
        self.blocklist = {
            category: sorted(a for a, c in ref.blocklist.items() if c == category)
            for category in ("mixer", "sanctioned")
        }

    def records(self, instance: Instance) -> list[tuple[int, tuple]]:
        """(event time ms, record) of every transaction of `instance`, in time order."""
        r = random.Random(instance.seed)
        drafts = _BUILDERS[instance.typology](self, instance, r)
        drafts.sort(key=lambda d: d.t)
        return [(d.t, self._record(instance, j, d, r)) for j, d in enumerate(drafts)]

    # helpers for the builders

    def amount(self, asset: str, usd: float, t: int) -> tuple[str, float]:
        """Amount text worth `usd` at the day's price, and the USD the enrichment computes."""
        price = self.ref.price(asset, t)
        text = format_decimal(usd / price, max_decimals=asset_decimals(asset))
        return text, float(text) * price

    def amount_within(
        self, asset: str, usd: float, t: int, lo: float, hi: float
    ) -> tuple[str, float]:
        """`amount()`, checking that the enrichment's USD lands in [lo, hi]."""
        text, realized = self.amount(asset, usd, t)
        if not lo <= realized <= hi:
            raise AssertionError(f"{asset} {text} is {realized} USD, outside [{lo}, {hi}]")
        return text, realized

    def fresh_address(self, asset: str, r: random.Random) -> str:
        """A never-seen external address on `asset`'s chain."""
        return random_address(self.ref.asset_chains[asset], r.getrandbits(ADDRESS_RANDOM_BITS))

    def attacker_device(self, instance: Instance) -> str:
        """A device no customer uses, one per instance."""
        return device_id(_ATTACKER_DEVICE_BASE + instance.serial, self.device_salt)

    def far_country(self, home: str, r: random.Random) -> str:
        """A country >= GEO_MIN_DISTANCE_KM from `home`, weighted like customer homes."""
        far = [c for c in HOME_WEIGHTS if self.ref.distance_km(home, c) >= GEO_MIN_DISTANCE_KM]
        return r.choices(far, [HOME_WEIGHTS[c] for c in far])[0]

    def own_session(self, wallet: int) -> tuple[str, str, str]:
        """(ip, country, device) of the wallet owner at home on the usual device."""
        pop = self.pop
        return pop.home_ip[wallet], pop.home[wallet], pop.devices[wallet][0]

    def _record(self, instance: Instance, j: int, d: Draft, r: random.Random) -> tuple:
        chain = hash_text = None
        if d.tx_type in ("deposit", "withdrawal"):
            chain = self.ref.asset_chains[d.asset]
            hash_text = d.shared_hash or tx_hash(chain, r.getrandbits(256))
        key = _FRAUD_KEY_BASE | instance.serial << 16 | j
        return (
            tx_id(key, self.salt),
            event_time_text(d.t, r.random()),
            d.tx_type,
            self.pop.wallet_ids[d.wallet],
            d.counterparty,
            d.asset,
            d.amount,
            None,
            chain,
            hash_text,
            home_venue(self.pop.home[d.wallet]),
            d.ip,
            d.country,
            d.device,
        )


def _spread(r: random.Random, start: int, span: float, n: int) -> list[int]:
    """n times from `start` to `start + span` (both included, n >= 2), uniform between."""
    inner = sorted(r.random() * span for _ in range(n - 2))
    return [start] + [start + int(x) for x in inner] + [start + int(span)]


def _log_uniform(r: random.Random, lo: float, hi: float) -> float:
    return math.exp(r.uniform(math.log(lo), math.log(hi)))


def _inside(lo: float, hi: float) -> tuple[float, float]:
    """[lo, hi] shrunk so that amount rounding cannot leave it: amounts keep 5 significant
    digits (<= 0.005 % off) and stablecoins 2 decimals (<= 0.005 USD off)."""
    return lo * 1.001 + 0.01, hi * 0.999 - 0.01


def _velocity_burst(kit: FraudKit, inst: Instance, r: random.Random) -> list[Draft]:
    """A taken-over account: trades, and withdrawals and transfers draining it, within
    60-240 s, from one attacker device on a VPN exit in the home country."""
    actor, mule = inst.wallets
    home = kit.pop.home[actor]
    ip = random_ip(kit.ref.ip_ranges[home], r)
    device = kit.attacker_device(inst)
    cash_asset = r.choice(("USDT", "ETH", "BTC"))
    drain_to = kit.fresh_address(cash_asset, r)
    drafts = []
    for t in _spread(r, inst.start_ms, r.uniform(*VELOCITY_SPAN_MS), inst.size):
        tx_type = r.choices(("trade", "withdrawal", "transfer"), (0.55, 0.30, 0.15))[0]
        usd = min(max(r.lognormvariate(math.log(400.0), 0.8), VELOCITY_USD[0]), VELOCITY_USD[1])
        asset = r.choice(_TRADE_ASSETS) if tx_type == "trade" else cash_asset
        counterparty = {
            "trade": None,
            "withdrawal": drain_to,
            "transfer": kit.pop.wallet_ids[mule],
        }[tx_type]
        amount, _ = kit.amount(asset, usd, t)
        drafts.append(Draft(t, tx_type, actor, counterparty, asset, amount, ip, home, device))
    return drafts


def _structuring(kit: FraudKit, inst: Instance, r: random.Random) -> list[Draft]:
    """3-6 deposits (or withdrawals) of 9 000-9 950 USD from/to distinct addresses,
    spread over 2-20 h: just under the 10 000 USD reporting threshold."""
    actor = inst.wallets[0]
    ip, home, device = kit.own_session(actor)
    tx_type = "deposit" if r.random() < 0.55 else "withdrawal"
    if tx_type == "deposit":
        ip = device = None
    asset = r.choice(("USDT", "USDC", "BTC", "ETH"))
    drafts = []
    for t in _spread(r, inst.start_ms, r.uniform(*STRUCTURING_SPAN_MS), inst.size):
        usd = r.uniform(*_inside(*STRUCTURING_USD))
        amount, _ = kit.amount_within(asset, usd, t, *STRUCTURING_USD)
        drafts.append(
            Draft(t, tx_type, actor, kit.fresh_address(asset, r), asset, amount, ip, home, device)
        )
    return drafts


def _rapid_in_out(kit: FraudKit, inst: Instance, r: random.Random) -> list[Draft]:
    """A deposit of 6 000-80 000 USD, withdrawn at 85-99 % 2-25 min later elsewhere."""
    actor = inst.wallets[0]
    ip, home, device = kit.own_session(actor)
    asset = r.choice(("USDT", "BTC", "ETH", "USDC", "SOL"))
    t_in = inst.start_ms
    usd_in = _log_uniform(r, *_inside(*RAPID_DEPOSIT_USD))
    amount_in, real_in = kit.amount_within(asset, usd_in, t_in, *RAPID_DEPOSIT_USD)
    t_out = t_in + r.randint(*RAPID_DELAY_MS)
    ratio = RAPID_OUT_RATIO
    usd_out = real_in * r.uniform(*_inside(*ratio))
    amount_out, _ = kit.amount_within(asset, usd_out, t_out, real_in * ratio[0], real_in * ratio[1])
    return [
        Draft(
            t_in, "deposit", actor, kit.fresh_address(asset, r), asset, amount_in, None, home, None
        ),
        Draft(
            t_out,
            "withdrawal",
            actor,
            kit.fresh_address(asset, r),
            asset,
            amount_out,
            ip,
            home,
            device,
        ),
    ]


def _peel_chain(kit: FraudKit, inst: Instance, r: random.Random) -> list[Draft]:
    """Funds hop through fresh wallets; each hop peels 3-12 % to a cash-out address
    5-90 min after its deposit and forwards the rest (x 0.97-0.995) 5-60 min later."""
    hops = inst.wallets
    pop = kit.pop
    ip, home, device = kit.own_session(hops[0])  # one operator behind every hop
    asset = r.choices(("BTC", "ETH", "USDT"), (0.6, 0.25, 0.15))[0]
    t = inst.start_ms
    amount, _ = kit.amount(asset, _log_uniform(r, *PEEL_FIRST_USD), t)
    source, shared = kit.fresh_address(asset, r), None
    drafts = []
    for i, hop in enumerate(hops):
        drafts.append(Draft(t, "deposit", hop, source, asset, amount, None, home, None, shared))
        received = float(amount) * kit.ref.price(asset, t)
        if received < PEEL_MIN_INBOUND_USD:
            raise AssertionError(f"peel hop receives only {received} USD")
        peel_delay = r.randint(*PEEL_DELAY_MS)
        t_peel = t + peel_delay
        peel_lo, peel_hi = received * PEEL_RATIO[0], received * PEEL_RATIO[1]
        usd = r.uniform(*_inside(peel_lo, peel_hi))
        peel, peeled = kit.amount_within(asset, usd, t_peel, peel_lo, peel_hi)
        drafts.append(
            Draft(
                t_peel,
                "withdrawal",
                hop,
                kit.fresh_address(asset, r),
                asset,
                peel,
                ip,
                home,
                device,
            )
        )
        min_delay = max(ONWARD_DELAY_MS[0], ONWARD_AFTER_DEPOSIT_MS - peel_delay)
        t_onward = t_peel + r.randint(min_delay, ONWARD_DELAY_MS[1])
        keep_lo, keep_hi = (
            (received - peeled) * ONWARD_KEEP_RATIO[0],
            (received - peeled) * ONWARD_KEEP_RATIO[1],
        )
        usd = r.uniform(*_inside(keep_lo, keep_hi))
        amount, _ = kit.amount_within(asset, usd, t_onward, keep_lo, keep_hi)
        last = i == len(hops) - 1
        to = kit.fresh_address(asset, r) if last else pop.wallet_ids[hops[i + 1]]
        shared = tx_hash(kit.ref.asset_chains[asset], r.getrandbits(256))
        drafts.append(
            Draft(t_onward, "withdrawal", hop, to, asset, amount, ip, home, device, shared)
        )
        t = t_onward + r.randint(*CONFIRMATION_DELAY_MS)
        source = pop.wallet_ids[hop]
    return drafts


def _round_trip(kit: FraudKit, inst: Instance, r: random.Random) -> list[Draft]:
    """Related wallets (one device, one IP) pass X back and forth: A sends X to B, B
    returns 97-100 % of X 5-40 min later; 2-4 rounds."""
    a, b = inst.wallets
    ids = kit.pop.wallet_ids
    ip, home, device = kit.own_session(a)
    asset = r.choice(("USDT", "USDC", "ETH", "BTC"))
    t = inst.start_ms
    drafts = []
    for _ in range(inst.size):
        usd = _log_uniform(r, *ROUND_TRIP_USD)
        while ROUND_TRIP_AVOID_USD[0] <= usd < ROUND_TRIP_AVOID_USD[1]:
            usd = _log_uniform(r, *ROUND_TRIP_USD)
        amount, sent = kit.amount(asset, usd, t)
        drafts.append(Draft(t, "transfer", a, ids[b], asset, amount, ip, home, device))
        t_back = t + r.randint(*ROUND_TRIP_BACK_DELAY_MS)
        lo, hi = sent * ROUND_TRIP_BACK_RATIO[0], sent * ROUND_TRIP_BACK_RATIO[1]
        back, _ = kit.amount_within(asset, r.uniform(*_inside(lo, hi)), t_back, lo, hi)
        drafts.append(Draft(t_back, "transfer", b, ids[a], asset, back, ip, home, device))
        t = t_back + r.randint(*ROUND_TRIP_PAUSE_MS)
    return drafts


def _geo_jump(kit: FraudKit, inst: Instance, r: random.Random) -> list[Draft]:
    """The owner acts at home; 5-60 min later an attacker acts from >= 3 000 km away."""
    actor = inst.wallets[0]
    ip, home, device = kit.own_session(actor)
    t = inst.start_ms
    tx_type = r.choice(("trade", "withdrawal"))
    asset = r.choice(("BTC", "ETH", "USDT"))
    usd = min(max(r.lognormvariate(math.log(300.0), 0.8), 20.0), 5_000.0)
    amount, _ = kit.amount(asset, usd, t)
    own_to = kit.fresh_address(asset, r) if tx_type == "withdrawal" else None
    drafts = [Draft(t, tx_type, actor, own_to, asset, amount, ip, home, device)]
    far = kit.far_country(home, r)
    far_ip, attacker = random_ip(kit.ref.ip_ranges[far], r), kit.attacker_device(inst)
    drain_to = kit.fresh_address(asset, r)
    t += r.randint(*GEO_FIRST_AWAY_DELAY_MS)
    for _ in range(inst.size):
        tx_type = "withdrawal" if r.random() < 0.6 else "trade"
        usd = min(max(r.lognormvariate(math.log(1_500.0), 0.7), 50.0), 8_000.0)
        amount, _ = kit.amount(asset, usd, t)
        to = drain_to if tx_type == "withdrawal" else None
        drafts.append(Draft(t, tx_type, actor, to, asset, amount, far_ip, far, attacker))
        t += r.randint(*GEO_NEXT_AWAY_DELAY_MS)
    return drafts


def _fan_out_dusting(kit: FraudKit, inst: Instance, r: random.Random) -> list[Draft]:
    """25-60 withdrawals of 0.5-8 USD to distinct fresh addresses within 10-50 min."""
    actor, n = inst.wallets[0], inst.size
    ip, home, device = kit.own_session(actor)
    asset = r.choice(("DOGE", "XRP", "ADA", "USDT", "SOL"))
    span = r.uniform(max(DUST_SPAN_MS[0], (n - 1) * DUST_MIN_GAP_MS), DUST_SPAN_MS[1])
    gaps = [r.uniform(1 - DUST_GAP_JITTER, 1 + DUST_GAP_JITTER) for _ in range(n - 1)]
    scale = span / sum(gaps)
    t, drafts = inst.start_ms, []
    for gap in [0.0, *gaps]:
        t += int(gap * scale)
        amount, _ = kit.amount_within(asset, r.uniform(*_inside(*DUST_USD)), t, *DUST_USD)
        drafts.append(
            Draft(
                t, "withdrawal", actor, kit.fresh_address(asset, r), asset, amount, ip, home, device
            )
        )
    return drafts


def _blocklist(kit: FraudKit, inst: Instance, r: random.Random) -> list[Draft]:
    """1-3 transactions with blocklisted addresses: withdrawals to a mixer, deposits from
    a sanctioned address. Amounts stay out of the structuring band and, after a deposit,
    out of the peel onward band."""
    actor = inst.wallets[0]
    ip, home, device = kit.own_session(actor)
    t, deposits, drafts = inst.start_ms, [], []
    for _ in range(inst.size):
        outgoing = r.random() < 0.5
        address = r.choice(kit.blocklist["mixer" if outgoing else "sanctioned"])
        asset = "BTC" if address.startswith("bc1") else r.choice(("ETH", "USDT", "USDC"))
        forbidden = [BAND_USD]
        if outgoing:
            forbidden += [(ONWARD_RATIO[0] * usd, ONWARD_RATIO[1] * usd) for usd in deposits]
        usd = nearest_allowed(_log_uniform(r, *BLOCKLIST_USD), forbidden, BLOCKLIST_USD[0])
        amount, real = kit.amount(asset, usd, t)
        if outgoing:
            drafts.append(Draft(t, "withdrawal", actor, address, asset, amount, ip, home, device))
        else:
            drafts.append(Draft(t, "deposit", actor, address, asset, amount, None, home, None))
            deposits.append(real)
        t += r.randint(*BLOCKLIST_GAP_MS)
    return drafts


_BUILDERS = {
    "velocity_burst": _velocity_burst,
    "structuring": _structuring,
    "rapid_in_out": _rapid_in_out,
    "peel_chain": _peel_chain,
    "round_trip": _round_trip,
    "geo_jump": _geo_jump,
    "fan_out_dusting": _fan_out_dusting,
    "blocklist": _blocklist,
}
