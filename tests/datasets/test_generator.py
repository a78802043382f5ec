"""Tests of the synthetic data generator (datasets/) and of the committed sample.

The pattern checks below are small pandas restatements of docs/typologies.md, so the data
is tested against the documented rules, independently of the operators that detect them.
Times are epoch ms, amounts USD at the daily close (what enrichment computes).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datasets import DATASETS_DIR, REFERENCE_DIR
from datasets.generator import (
    LABEL_FIELDS,
    SAMPLE_LABELS,
    SAMPLE_TRANSACTIONS,
    SAMPLE_WALLETS,
    Config,
    generate,
    main,
)
from datasets.noise import MALFORMED_REASONS
from datasets.refdata import STATIC_TABLES, load_reference, write_static_reference
from datasets.typologies import TYPOLOGIES
from operators.event import EVENT_FIELDS

REPO = Path(__file__).resolve().parents[2]
REF = load_reference()
SECOND, MINUTE, HOUR, DAY = 1_000, 60_000, 3_600_000, 86_400_000
MAX_COMMITTED_BYTES = 5_000_000
OUTGOING = ("withdrawal", "transfer")


def run(config: Config) -> tuple[str, str, str]:
    """(transactions, labels, wallets) text generated in memory."""
    out, labels, wallets = io.StringIO(), io.StringIO(), io.StringIO()
    generate(config, out, labels, wallets)
    return out.getvalue(), labels.getvalue(), wallets.getvalue()


def parse_times(text: pd.Series) -> pd.Series:
    """Epoch ms of event_time values (epoch-ms digits or ISO-8601 UTC)."""
    digits = text.str.fullmatch(r"\d+")
    t = pd.Series(0, index=text.index, dtype="int64")
    t[digits] = text[digits].astype("int64")
    iso = pd.to_datetime(text[~digits], format="ISO8601", utc=True)
    t[~digits] = (iso - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    return t


def records_frame(transactions: str, labels: str) -> pd.DataFrame:
    """Every record with its labels; `fields` is False for rows of the wrong width."""
    lines = transactions.splitlines()[1:]
    frame = pd.read_csv(io.StringIO(labels), dtype=str, keep_default_na=False)
    assert len(lines) == len(frame)
    frame["line"] = lines
    parts = [line.split(",") for line in lines]
    frame["fields"] = [len(p) == len(EVENT_FIELDS) for p in parts]
    return frame


def events_frame(records: pd.DataFrame) -> pd.DataFrame:
    """The distinct valid events (no malformed, no duplicates) with time and USD value."""
    valid = records[~records.noise.isin(["malformed", "duplicate"])]
    events = pd.DataFrame([line.split(",") for line in valid.line], columns=list(EVENT_FIELDS))
    events["typology"] = valid.typology.to_numpy()
    events["instance_id"] = valid.instance_id.to_numpy()
    events["noise"] = valid.noise.to_numpy()
    events["record_no"] = valid.record_no.astype(int).to_numpy()
    events["t"] = parse_times(events.event_time)
    day = events.t // DAY - REF.price_day0
    prices = [REF.prices[a][d] for a, d in zip(events.asset, day, strict=True)]
    events["usd"] = events.amount.astype(float) * prices
    events = events.rename(columns={"wallet_id": "wallet", "counterparty_wallet": "cp"})
    return events.sort_values("t", kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def sample_files() -> tuple[str, str, str]:
    return (
        SAMPLE_TRANSACTIONS.read_text(),
        SAMPLE_LABELS.read_text(),
        SAMPLE_WALLETS.read_text(),
    )


@pytest.fixture(scope="module")
def records(sample_files) -> pd.DataFrame:
    return records_frame(sample_files[0], sample_files[1])


@pytest.fixture(scope="module")
def events(records) -> pd.DataFrame:
    return events_frame(records)


@pytest.fixture(scope="module")
def ordinary(events) -> pd.DataFrame:
    return events[events.typology == "none"]


# ---------------------------------------------------------------- pattern helpers


def window_counts(df: pd.DataFrame, window_ms: int) -> pd.Series:
    """Per row: rows of the same wallet with t in [t - window_ms, t]."""
    df = df.sort_values(["wallet", "t"], kind="stable")
    counts = pd.Series(0, index=df.index)
    for _, group in df.groupby("wallet", sort=False):
        ts = group.t.to_numpy()
        counts[group.index] = np.arange(len(ts)) - np.searchsorted(ts, ts - window_ms) + 1
    return counts


def inbound(events: pd.DataFrame) -> pd.DataFrame:
    """Inbound views: own deposits, and transfers as their receiver sees them."""
    deposits = events[events.tx_type == "deposit"][["wallet", "cp", "t", "usd", "tx_id"]]
    received = events[events.tx_type == "transfer"][["cp", "wallet", "t", "usd", "tx_id"]]
    received = received.rename(columns={"cp": "wallet", "wallet": "cp"})
    return pd.concat([deposits, received], ignore_index=True)


def outgoing(events: pd.DataFrame) -> pd.DataFrame:
    return events[events.tx_type.isin(OUTGOING)][["wallet", "cp", "t", "usd", "tx_id"]]


def rapid_out(events: pd.DataFrame, min_in: float, ratio: float) -> pd.DataFrame:
    """Withdrawals >= ratio x an inbound >= min_in USD of the 30 min before."""
    ins = inbound(events)
    ins = ins[ins.usd >= min_in]
    outs = events[events.tx_type == "withdrawal"][["wallet", "t", "usd", "tx_id"]]
    m = ins.merge(outs, on="wallet", suffixes=("_in", "_out"))
    delay = m.t_out - m.t_in
    return m[(delay >= 0) & (delay <= 30 * MINUTE) & (m.usd_out >= ratio * m.usd_in)]


def peel_splits(events: pd.DataFrame, min_in: float) -> pd.DataFrame:
    """Inbounds >= min_in split within 6 h into a 70-98 % and a 1-20 % outgoing to two
    distinct counterparties; `tx_id` is the later of the two (the completing one)."""
    ins = inbound(events)
    m = ins[ins.usd >= min_in].merge(outgoing(events), on="wallet", suffixes=("_in", "_out"))
    m = m[(m.t_out > m.t_in) & (m.t_out - m.t_in <= 6 * HOUR)]
    ratio = m.usd_out / m.usd_in
    onward = m[(ratio >= 0.70) & (ratio <= 0.98)]
    peel = m[(ratio >= 0.01) & (ratio <= 0.20)]
    pairs = onward.merge(peel, on=["wallet", "tx_id_in"], suffixes=("_on", "_peel"))
    pairs = pairs[pairs.cp_out_on != pairs.cp_out_peel]
    later = np.where(pairs.t_out_on >= pairs.t_out_peel, pairs.tx_id_out_on, pairs.tx_id_out_peel)
    return pairs.assign(tx_id=later)


def returns(events: pd.DataFrame, min_usd: float) -> pd.DataFrame:
    """Transfers >= min_usd to C within 1 h of receiving +-5 % of it from C."""
    transfers = events[events.tx_type == "transfer"]
    sent = transfers[transfers.usd >= min_usd][["wallet", "cp", "t", "usd", "tx_id"]]
    got = transfers[["cp", "wallet", "t", "usd"]].rename(columns={"cp": "wallet", "wallet": "cp"})
    m = sent.merge(got, on=["wallet", "cp"], suffixes=("", "_in"))
    delay = m.t - m.t_in
    close = (m.usd / m.usd_in - 1).abs() <= 0.05
    return m[(delay >= 0) & (delay <= HOUR) & close]


def country_changes(events: pd.DataFrame) -> pd.DataFrame:
    """Consecutive own events of a wallet in different countries, with the implied speed."""
    df = events.sort_values(["wallet", "t"], kind="stable")
    prev = df.groupby("wallet")[["country", "t"]].shift()
    moved = df[prev.country.notna() & (prev.country != df.country)].copy()
    moved["km"] = [
        REF.distance_km(a, b) for a, b in zip(prev.country[moved.index], moved.country, strict=True)
    ]
    hours = (moved.t - prev.t[moved.index]) / HOUR
    moved["kmh"] = np.where(hours > 0, moved.km / hours.where(hours > 0, 1), np.inf)
    return moved


def dust_counts(events: pd.DataFrame, distinct: bool) -> pd.DataFrame:
    """Outgoing <= 10 USD with, per row, the count (or distinct counterparties) of the
    wallet's outgoing <= 10 USD in the hour up to it."""
    dust = outgoing(events)
    dust = dust[dust.usd <= 10].sort_values(["wallet", "t"], kind="stable")
    counts = pd.Series(0, index=dust.index)
    for _, group in dust.groupby("wallet", sort=False):
        ts, cps = group.t.to_numpy(), group.cp.to_numpy()
        lows = np.searchsorted(ts, ts - HOUR)
        counts[group.index] = [
            len(set(cps[lo : i + 1])) if distinct else i + 1 - lo for i, lo in enumerate(lows)
        ]
    return dust.assign(count=counts)


def ip_country(ip: str) -> str | None:
    """The country of ip_ranges.csv that holds a dotted-quad address."""
    a, b, c, d = map(int, ip.split("."))
    n = a << 24 | b << 16 | c << 8 | d
    return next((cc for cc, rs in REF.ip_ranges.items() for lo, hi in rs if lo <= n <= hi), None)


def completing(events: pd.DataFrame, rule: str) -> set[str]:
    """tx_ids that complete `rule`'s pattern at the documented default thresholds."""
    if rule == "velocity_burst":
        return set(events.tx_id[window_counts(events, 5 * MINUTE) >= 10])
    if rule == "structuring":
        band = events[
            events.tx_type.isin(["deposit", *OUTGOING]) & events.usd.between(8_500, 10_000, "left")
        ]
        return set(band.tx_id[window_counts(band, DAY) >= 3])
    if rule == "rapid_in_out":
        return set(rapid_out(events, 5_000, 0.8).tx_id_out)
    if rule == "peel_chain":
        return set(peel_splits(events, 1_000).tx_id)
    if rule == "round_trip":
        return set(returns(events, 1_000).tx_id)
    if rule == "geo_jump":
        moved = country_changes(events)
        return set(moved.tx_id[(moved.km >= 500) & (moved.kmh > 900)])
    if rule == "fan_out_dusting":
        dust = dust_counts(events, distinct=True)
        return set(dust.tx_id[dust["count"] >= 20])
    assert rule == "blocklist"
    return set(events.tx_id[events.cp.isin(list(REF.blocklist))])


# ---------------------------------------------------------------- determinism, sample


def test_same_arguments_give_identical_output():
    config = Config(events=6_000, seed=3)
    assert run(config) == run(config)
    assert run(Config(events=6_000, seed=4))[0] != run(config)[0]


def test_committed_sample_equals_a_fresh_sample_run(sample_files):
    assert run(Config()) == sample_files


def test_committed_files_stay_small():
    files = [*DATASETS_DIR.glob("*.csv"), *REFERENCE_DIR.glob("*.csv")]
    assert len(files) >= 8
    for path in files:
        assert path.stat().st_size < MAX_COMMITTED_BYTES, path


def test_static_reference_tables_are_reproducible(tmp_path):
    write_static_reference(tmp_path)
    for name in STATIC_TABLES:
        assert (tmp_path / name).read_bytes() == (REFERENCE_DIR / name).read_bytes(), name


def test_record_count_is_exact_and_labels_align():
    transactions, labels, _ = run(Config(events=2_500, seed=5))
    assert transactions.splitlines()[0] == ",".join(EVENT_FIELDS)
    assert len(transactions.splitlines()) == 2_501
    label_frame = pd.read_csv(io.StringIO(labels), dtype=str, keep_default_na=False)
    assert tuple(label_frame.columns) == LABEL_FIELDS
    assert label_frame.record_no.astype(int).tolist() == list(range(1, 2_501))


def test_jsonl_carries_the_same_records_as_csv():
    csv_text, csv_labels, _ = run(Config(events=3_000, seed=9))
    jsonl_text, jsonl_labels, _ = run(Config(events=3_000, seed=9, fmt="jsonl"))
    assert csv_labels == jsonl_labels
    records = records_frame(csv_text, csv_labels)
    json_lines = pd.Series(jsonl_text.splitlines(), index=records.index)
    valid = records.noise != "malformed"
    for line, json_line in zip(records.line[valid], json_lines[valid], strict=True):
        obj = json.loads(json_line)
        assert list(obj) == list(EVENT_FIELDS)
        as_text = {k: "" if v is None else str(v) for k, v in obj.items()}
        as_text["amount"] = line.split(",")[EVENT_FIELDS.index("amount")]
        assert float(as_text["amount"]) == obj["amount"]
        assert ",".join(as_text.values()) == line


# VmHWM is the peak resident memory of this process image; unlike ru_maxrss it does not
# inherit the (large) pytest process's peak across fork + exec.
CHILD_PEAK_MEMORY = """
import re, sys
from datasets.generator import main
main(sys.argv[1:])
status = open("/proc/self/status").read()
print(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1), file=sys.stderr)
"""


def peak_rss_kb(events: int) -> int:
    """Peak resident memory (KiB) of a generator process writing `events` to stdout."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD_PEAK_MEMORY, "--events", str(events), "--out", "-", "--quiet"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return int(done.stderr.split()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_streaming_keeps_memory_bounded():
    # 200k records are ~25 MB of text and ~200 MB as Python objects; a streaming run
    # needs about what a 10x smaller run needs.
    small, large = peak_rss_kb(20_000), peak_rss_kb(200_000)
    assert large - small < 16 * 1024, (small, large)


# ---------------------------------------------------------------- labels and noise


def test_every_typology_has_enough_instances(records):
    fraud = records[records.typology != "none"]
    counts = fraud.groupby("typology").instance_id.nunique()
    assert set(counts.index) == set(TYPOLOGIES)
    assert (counts >= 12).all(), counts.to_dict()
    assert set(records.typology) == {*TYPOLOGIES, "none"}
    assert (records.instance_id[records.typology == "none"] == "").all()


def test_noise_shares_are_in_range(records, events):
    shares = records.noise.value_counts() / len(records)
    assert 0.007 <= shares["duplicate"] <= 0.013
    assert 0.003 <= shares["malformed"] <= 0.007
    ordinary = events[events.typology == "none"]
    assert 0.015 <= (ordinary.noise == "out_of_order").mean() <= 0.025
    assert set(events.noise[events.typology != "none"]) == {""}


def test_duplicates_repeat_an_earlier_line_shortly_after(records):
    position = {}
    for i, (line, noise) in enumerate(zip(records.line, records.noise, strict=True)):
        if noise == "duplicate":
            assert line in position and 0 < i - position[line] <= 200, i
        else:
            position.setdefault(line, i)


def test_no_record_arrives_more_than_50_s_late(records):
    valid = records[records.noise != "malformed"]
    times = parse_times(valid.line.str.split(",").str[EVENT_FIELDS.index("event_time")])
    lateness = times.cummax().shift() - times
    assert lateness.max() <= 50 * SECOND
    late = lateness[valid.noise == "out_of_order"]
    # in quiet hours nothing may happen during the delay: the record is late but in order
    assert (late > 0).mean() > 0.6


def test_malformed_records_have_their_dlq_reason(records):
    malformed = records.noise == "malformed"
    assert set(records.expected_reason[malformed]) == set(MALFORMED_REASONS)
    assert (records.expected_reason[~malformed] == "").all()
    assert not records.fields[records.expected_reason == "malformed_record"].any()
    assert records.fields[malformed & (records.expected_reason != "malformed_record")].all()


def test_tx_ids_are_unique_and_malformed_ones_never_collide(records, events):
    assert events.tx_id.is_unique
    bad_ids = records.tx_id[(records.noise == "malformed") & (records.tx_id != "")]
    assert bad_ids.is_unique
    assert not set(bad_ids) & set(events.tx_id)
    duplicated = records[records.noise == "duplicate"].tx_id
    assert set(duplicated) <= set(events.tx_id)


# ---------------------------------------------------------------- realism, consistency


def test_events_agree_with_the_reference_data(events, sample_files):
    wallets = pd.read_csv(io.StringIO(sample_files[2]), dtype=str)
    assert set(events.wallet) <= set(wallets.wallet_id)
    assert set(events.asset) <= set(REF.asset_chains)
    assert (events.amount.astype(float) > 0).all()
    on_chain = events.tx_type.isin(["deposit", "withdrawal"])
    assert (events.chain[on_chain] == events.asset[on_chain].map(REF.asset_chains)).all()
    assert (events.tx_hash[on_chain] != "").all() and (events[~on_chain].tx_hash == "").all()
    assert (events.cp[events.tx_type == "trade"] == "").all()
    assert events.cp[events.tx_type == "transfer"].isin(wallets.wallet_id).all()
    names_a_wallet = on_chain & events.cp.str.startswith("w_")
    assert (events.typology[names_a_wallet] == "peel_chain").all()  # hops name their neighbours
    with_ip = events[events.ip != ""]
    assert (with_ip.ip.map(ip_country) == with_ip.country).all()
    assert (events.ip[events.tx_type == "deposit"] == "").all()


def test_ordinary_activity_level_and_mix(ordinary):
    days = (ordinary.t.max() - ordinary.t.min()) / DAY
    per_wallet_day = len(ordinary) / ordinary.wallet.nunique() / days
    assert 3 <= per_wallet_day <= 6
    mix = ordinary.tx_type.value_counts(normalize=True)
    assert set(mix.index) == {"trade", "deposit", "withdrawal", "transfer"}
    assert mix["trade"] > 0.5
    assert ordinary.venue.nunique() >= 5
    assert ordinary.usd.quantile(0.99) > 50 * ordinary.usd.median()  # heavy tail


def test_fraud_instances_have_their_documented_shape(events, sample_files):
    wallets = pd.read_csv(io.StringIO(sample_files[2]), dtype=str).set_index("wallet_id")
    created = parse_times(wallets.created_at)
    fraud = events[events.typology != "none"]
    for instance_id, inst in fraud.groupby("instance_id"):
        typology = inst.typology.iloc[0]
        span = inst.t.max() - inst.t.min()
        if typology == "peel_chain":
            hops = inst.wallet.unique()
            age = inst.t.min() - created[hops]
            assert ((age >= HOUR) & (age <= 72 * HOUR)).all(), instance_id
            assert 4 <= len(hops) <= 8 and len(inst) == 3 * len(hops)
        elif typology == "round_trip":
            assert inst.device_id.nunique() == 1 and inst.wallet.nunique() == 2
        elif typology == "velocity_burst":
            assert 12 <= len(inst) <= 20 and 60 * SECOND <= span <= 240 * SECOND
        elif typology == "structuring":
            assert 3 <= len(inst) <= 6 and inst.usd.between(9_000, 9_950).all()
        elif typology == "rapid_in_out":
            deposit, withdrawal = inst.itertuples()
            assert (deposit.tx_type, withdrawal.tx_type) == ("deposit", "withdrawal")
            assert 0.85 <= withdrawal.usd / deposit.usd <= 0.99
            assert 2 * MINUTE <= span <= 25 * MINUTE
        elif typology == "geo_jump":
            home, *away = inst.itertuples()
            assert all(REF.distance_km(home.country, a.country) >= 3_000 for a in away)
        elif typology == "fan_out_dusting":
            assert 25 <= len(inst) <= 60 and inst.cp.is_unique and inst.usd.between(0.5, 8).all()
            assert 10 * MINUTE <= span <= 50 * MINUTE
        elif typology == "blocklist":
            assert inst.cp.isin(list(REF.blocklist)).all() and 1 <= len(inst) <= 3


# ---------------------------------------------------------------- what ordinary wallets never do


def test_ordinary_wallets_make_at_most_6_events_per_5_min(ordinary):
    assert window_counts(ordinary, 5 * MINUTE).max() <= 6


def test_ordinary_wallets_have_at_most_one_near_threshold_transaction_per_day(ordinary):
    views = pd.concat([ordinary[["wallet", "t", "usd"]], inbound(ordinary)[["wallet", "t", "usd"]]])
    band = views[views.usd.between(8_500, 10_000, "left")].drop_duplicates()
    assert window_counts(band, DAY).max() <= 1


def test_ordinary_wallets_never_withdraw_a_large_inbound_within_30_min(ordinary):
    assert rapid_out(ordinary, 5_000, 0.8).empty


def test_ordinary_wallets_never_split_an_inbound_into_onward_and_peel(ordinary):
    assert peel_splits(ordinary, 0).empty


def test_ordinary_wallets_never_send_back_what_they_received_within_1_h(ordinary):
    assert returns(ordinary, 0).empty


def test_ordinary_wallets_never_travel_faster_than_900_kmh(ordinary):
    moved = country_changes(ordinary)
    assert not moved.empty  # some legitimately travel
    assert (moved.kmh <= 900).all()


def test_ordinary_wallets_never_send_10_dust_outgoing_per_hour(ordinary):
    dust = dust_counts(ordinary, distinct=False)
    assert dust.empty or dust["count"].max() < 10


def test_ordinary_wallets_never_touch_a_blocklisted_address(ordinary):
    assert not ordinary.cp.isin(list(REF.blocklist)).any()


# ---------------------------------------------------------------- the documented rules


@pytest.mark.parametrize("rule", TYPOLOGIES)
def test_only_and_every_instance_of_a_typology_completes_its_rule(events, rule):
    hits = events[events.tx_id.isin(completing(events, rule))]
    assert (hits.typology == rule).all(), hits.typology.value_counts().to_dict()
    instances = set(events.instance_id[events.typology == rule])
    assert set(hits.instance_id) == instances


# ---------------------------------------------------------------- CLI


def test_cli_writes_every_requested_file(tmp_path, capsys):
    out, labels, wallets = tmp_path / "tx.jsonl", tmp_path / "labels.csv", tmp_path / "w.csv"
    args = ["--events", "1500", "--format", "jsonl", "--no-noise", "--out", str(out)]
    main([*args, "--labels", str(labels), "--wallets-out", str(wallets)])
    assert len(out.read_text().splitlines()) == 1_500
    assert all(json.loads(line) for line in out.read_text().splitlines())
    assert "malformed" not in labels.read_text() and "duplicate" not in labels.read_text()
    assert wallets.read_text().startswith("wallet_id,created_at,kyc_tier,home_country,segment\n")
    assert "wrote 1,500 records" in capsys.readouterr().err


def test_cli_sample_refuses_other_options():
    with pytest.raises(SystemExit):
        main(["--sample", "--events", "10"])
