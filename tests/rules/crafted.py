"""Crafted event sequences for the shipped SQL rules: per rule, a sequence that must fire
(on known transactions) and near misses that must stay silent. Every case uses its own
wallets, so one CSV (one Flink job) tests every rule at once.

Thresholds are the defaults of flink-conf/pipeline.toml ([detectors.*]), as in the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from operators.event import EVENT_FIELDS

T0 = 1_772_438_400_000  # 2026-03-02T08:00:00Z (inside the reference price table)
MINUTE = 60_000
HOUR = 60 * MINUTE

MIXER = "0xee446d79cda5075d2a4a9ae510dbf2b0709ee77c"
SANCTIONED = "0x4c55078f58949e14100563a8c3ae4dac9a751d7f"
CLEAN_ADDRESS = "0x9999999999999999999999999999999999999999"


@dataclass
class Case:
    """Events of one rule's case; `fires` are the tx ids the rule must alert."""

    rule_id: str
    events: list[dict] = field(default_factory=list)
    fires: set[str] = field(default_factory=set)
    near_miss_wallets: set[str] = field(default_factory=set)

    @property
    def wallets(self) -> set[str]:
        return {e["wallet_id"] for e in self.events}

    def add(self, tx_id: str, ts: int, tx_type: str, wallet: str, usd: float, **extra) -> str:
        self.events.append(
            {
                "tx_id": tx_id,
                "event_time": _iso(ts),
                "tx_type": tx_type,
                "wallet_id": wallet,
                "counterparty_wallet": extra.pop(
                    "counterparty", None if tx_type == "trade" else CLEAN_ADDRESS
                ),
                "asset": "USDT",
                "amount": usd,
                "amount_usd": usd,
                "venue": "coinex-eu",
                "country": extra.pop("country", "DE"),
                **extra,
            }
        )
        return tx_id


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def rapid_in_out() -> Case:
    c = Case("rapid_in_out_sql")
    c.add("rio_f_in", T0, "deposit", "w_rio_fire", 6_000)
    c.fires.add(c.add("rio_f_out", T0 + 10 * MINUTE, "withdrawal", "w_rio_fire", 5_500))
    # near misses: 67 % withdrawn; 92 % withdrawn but after 40 min; a 4,000 USD deposit
    c.add("rio_n1_in", T0, "deposit", "w_rio_ratio", 6_000)
    c.add("rio_n1_out", T0 + 10 * MINUTE, "withdrawal", "w_rio_ratio", 4_000)
    c.add("rio_n2_in", T0, "deposit", "w_rio_late", 6_000)
    c.add("rio_n2_out", T0 + 40 * MINUTE, "withdrawal", "w_rio_late", 5_500)
    c.add("rio_n3_in", T0, "deposit", "w_rio_small", 4_000)
    c.add("rio_n3_out", T0 + 5 * MINUTE, "withdrawal", "w_rio_small", 3_900)
    c.near_miss_wallets |= {"w_rio_ratio", "w_rio_late", "w_rio_small"}
    return c


def structuring() -> Case:
    c = Case("structuring_sql")
    c.add("str_f1", T0, "deposit", "w_str_fire", 9_000)
    c.add("str_f2", T0 + 2 * HOUR, "withdrawal", "w_str_fire", 9_200)
    c.fires.add(c.add("str_f3", T0 + 5 * HOUR, "transfer", "w_str_fire", 9_500))
    # near misses: the third is at the threshold; the third is 25 h after the first
    c.add("str_n1", T0, "deposit", "w_str_at", 9_000)
    c.add("str_n2", T0 + 2 * HOUR, "deposit", "w_str_at", 9_200)
    c.add("str_n3", T0 + 5 * HOUR, "deposit", "w_str_at", 10_000)
    c.add("str_n4", T0, "deposit", "w_str_slow", 9_000)
    c.add("str_n5", T0 + 12 * HOUR, "deposit", "w_str_slow", 9_100)
    c.add("str_n6", T0 + 25 * HOUR, "deposit", "w_str_slow", 9_200)
    c.near_miss_wallets |= {"w_str_at", "w_str_slow"}
    return c


def round_trip() -> Case:
    c = Case("round_trip_sql")
    c.add("rt_f_go", T0, "transfer", "w_rt_a", 2_000, counterparty="w_rt_b")
    c.fires.add(
        c.add("rt_f_back", T0 + 10 * MINUTE, "transfer", "w_rt_b", 1_950, counterparty="w_rt_a")
    )
    # near misses: 90 % sent back; sent back to another wallet
    c.add("rt_n1_go", T0, "transfer", "w_rt_c", 2_000, counterparty="w_rt_d")
    c.add("rt_n1_back", T0 + 10 * MINUTE, "transfer", "w_rt_d", 1_800, counterparty="w_rt_c")
    c.add("rt_n2_go", T0, "transfer", "w_rt_e", 2_000, counterparty="w_rt_f")
    c.add("rt_n2_on", T0 + 10 * MINUTE, "transfer", "w_rt_f", 1_990, counterparty="w_rt_g")
    c.near_miss_wallets |= {"w_rt_c", "w_rt_d", "w_rt_e", "w_rt_f"}
    return c


def blocklist() -> Case:
    c = Case("blocklist_sql")
    c.fires.add(c.add("bl_f_mixer", T0, "withdrawal", "w_bl_fire", 500, counterparty=MIXER))
    c.fires.add(
        c.add("bl_f_sanct", T0 + MINUTE, "deposit", "w_bl_fire", 700, counterparty=SANCTIONED)
    )
    c.add("bl_n1", T0, "withdrawal", "w_bl_clean", 500, counterparty=MIXER[:-1] + "d")
    c.near_miss_wallets.add("w_bl_clean")
    return c


def velocity_burst() -> Case:
    c = Case("velocity_burst_sql")
    for i in range(10):
        tx = c.add(f"vb_f{i}", T0 + i * 20_000, "trade", "w_vb_fire", 50)
    c.fires.add(tx)  # the 10th within 3 min
    for i in range(9):
        c.add(f"vb_n{i}", T0 + i * 20_000, "trade", "w_vb_nine", 50)
    for i in range(10):  # ten, but 40 s apart: never ten within 5 min
        c.add(f"vb_s{i}", T0 + i * 40_000, "trade", "w_vb_slow", 50)
    c.near_miss_wallets |= {"w_vb_nine", "w_vb_slow"}
    return c


def geo_jump() -> Case:
    c = Case("geo_jump_sql")
    c.add("gj_f_home", T0, "trade", "w_gj_fire", 50, country="DE")
    c.fires.add(c.add("gj_f_away", T0 + 30 * MINUTE, "trade", "w_gj_fire", 50, country="SG"))
    # near misses: Singapore 13 h later (~770 km/h); a country not in the reference table
    c.add("gj_n1_home", T0, "trade", "w_gj_slow", 50, country="DE")
    c.add("gj_n1_away", T0 + 13 * HOUR, "trade", "w_gj_slow", 50, country="SG")
    c.add("gj_n2_home", T0, "trade", "w_gj_unknown", 50, country="DE")
    c.add("gj_n2_away", T0 + 30 * MINUTE, "trade", "w_gj_unknown", 50, country="ZZ")
    c.near_miss_wallets |= {"w_gj_slow", "w_gj_unknown"}
    return c


def dust_fan_out() -> Case:
    c = Case("dust_fan_out_hourly")
    # 08:05:00-08:15:30, inside the hour window from 08:00: it alerts on the 22nd
    start = T0 + 5 * MINUTE
    for i in range(22):
        c.add(f"df_f{i}", start + i * 30_000, "withdrawal", "w_df_fire", 2, counterparty=f"0xd{i}")
    c.fires.add("df_f21")
    for i in range(19):
        c.add(f"df_n{i}", start + i * 30_000, "withdrawal", "w_df_few", 2, counterparty=f"0xd{i}")
    c.near_miss_wallets.add("w_df_few")
    return c


def risky_large_withdrawal() -> Case:
    c = Case("risky_large_withdrawal")
    c.add("rl_f_in", T0, "deposit", "w_rl_fire", 30_000)
    c.fires.add(c.add("rl_f_out", T0 + 8 * MINUTE, "withdrawal", "w_rl_fire", 29_000))
    c.add("rl_n_in", T0, "deposit", "w_rl_small", 19_000)
    c.add("rl_n_out", T0 + 8 * MINUTE, "withdrawal", "w_rl_small", 18_500)  # below 20,000 USD
    c.near_miss_wallets.add("w_rl_small")
    return c


CASES = (
    rapid_in_out,
    structuring,
    round_trip,
    blocklist,
    velocity_burst,
    geo_jump,
    dust_fan_out,
    risky_large_withdrawal,
)


def all_cases() -> list[Case]:
    return [make() for make in CASES]


def write_csv(cases: list[Case], path: Path) -> Path:
    """Every case's events in one dataset CSV, in event-time order."""
    events = sorted(
        (e for c in cases for e in c.events), key=lambda e: (e["event_time"], e["tx_id"])
    )
    lines = [",".join(EVENT_FIELDS)]
    for e in events:
        lines.append(",".join("" if e.get(k) is None else str(e[k]) for k in EVENT_FIELDS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
