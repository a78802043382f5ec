"""The whole job on a local Flink minicluster, at parallelism 1 and 2.

Each run is `python -m pipeline run` in a subprocess (a fresh JVM, as a user runs it);
the assertions read the committed output files back.
"""

from __future__ import annotations

import base64
import csv
from collections import Counter

import pytest

from pipeline.components import Components
from pipeline.config import PROJECT_ROOT, load_config
from pipeline.job import CSV_HEADER
from pipeline.offline import iter_records, replay
from pipeline.sinks import OutputPaths
from pipeline.summary import processed_files, read_json_lines, read_processed
from tests.jobs import assert_outputs_match_offline, python_detector_alerts, run_job

pytestmark = pytest.mark.minicluster

SAMPLE = PROJECT_ROOT / "datasets" / "sample_transactions.csv"
LABELS = PROJECT_ROOT / "datasets" / "fraud_labels.csv"
NO_MODEL_ALERTS = {
    "decision.alert_score_threshold": "1.01",
    "decision.critical_score_threshold": "1.01",
}


@pytest.fixture(scope="module", params=[1, 2], ids=["p1", "p2"])
def sample_run(request, tmp_path_factory) -> OutputPaths:
    out = tmp_path_factory.mktemp(f"sample-p{request.param}")
    return run_job(out, SAMPLE, request.param)


@pytest.fixture(scope="module")
def offline_sample():
    return replay(iter_records(SAMPLE), Components(load_config()))


def _labels() -> list[dict]:
    with open(LABELS, newline="") as f:
        return list(csv.DictReader(f))


def test_job_accounts_for_every_sample_record(sample_run):
    labels = _labels()
    processed = read_processed(sample_run.processed, ["tx_id"])
    dlq = read_json_lines(sample_run.dlq)
    duplicates = read_json_lines(sample_run.duplicates)
    valid_ids = processed.column("tx_id").to_pylist()

    assert len(valid_ids) == len(set(valid_ids)), "a transaction was written twice"
    assert len(valid_ids) + len(dlq) + len(duplicates) == len(labels)
    assert len(duplicates) == sum(r["noise"] == "duplicate" for r in labels)
    expected_valid = {r["tx_id"] for r in labels if r["noise"] != "malformed"}
    assert set(valid_ids) == expected_valid


def test_job_sends_every_malformed_record_to_the_dlq_with_its_reason(sample_run):
    dlq = read_json_lines(sample_run.dlq)
    malformed = [r for r in _labels() if r["noise"] == "malformed"]
    assert Counter(r["reason"] for r in dlq) == Counter(r["expected_reason"] for r in malformed)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    expected = {lines[int(r["record_no"])]: r["expected_reason"] for r in malformed}
    got = {base64.b64decode(r["original"]).decode(): r["reason"] for r in dlq}
    assert got == expected
    assert all(r["source"].startswith("file:") and r["detail"] for r in dlq)
    # each names its file and line (record_no counts from the header, line 1)
    assert Counter((lines[int(r["record_no"])], int(r["record_no"]) + 1) for r in malformed) == (
        Counter((base64.b64decode(r["original"]).decode(), r["origin"]["line"]) for r in dlq)
    )
    assert all(
        r["origin"]["kind"] == "file" and r["origin"]["path"].endswith(str(SAMPLE)) for r in dlq
    )


def test_streaming_alerts_equal_the_offline_replay(sample_run, offline_sample):
    alerts = python_detector_alerts(read_json_lines(sample_run.alerts))
    got = {(a["alert_id"], a["tx_id"], tuple(a["rule_ids"]), a["severity"]) for a in alerts}
    want = {(a.alert_id, a.tx_id, a.rule_ids, a.severity) for a in offline_sample.alerts}
    assert len(alerts) == len(got), "an alert was emitted twice"
    assert got == want


def test_streaming_features_and_scores_equal_the_offline_ones(sample_run, offline_sample):
    table = read_processed(sample_run.processed).to_pylist()
    by_tx = {row["tx_id"]: row for row in table}
    assert len(by_tx) == len(offline_sample.scored)
    for scored, score in zip(offline_sample.scored, offline_sample.scores, strict=True):
        row = by_tx[scored.view.event.tx.tx_id]
        from models.features import FEATURE_NAMES

        streamed = [row[f"f_{name}"] for name in FEATURE_NAMES]
        assert streamed == scored.features, scored.view.event.tx.tx_id
        assert row["score"] == pytest.approx(float(score), abs=1e-6)


def test_processed_zone_is_partitioned_by_event_date_and_hour(sample_run):
    folders = {
        p.relative_to(sample_run.processed).parts[:2] for p in processed_files(sample_run.processed)
    }
    assert folders, "no processed files"
    for date_part, hour_part in folders:
        assert date_part.startswith("event_date=2026-") and hour_part.startswith("hour=")
    table = read_processed(sample_run.processed, ["event_time_ms", "event_date", "hour"])
    from datetime import UTC, datetime

    for ms, day, hour in zip(
        *(table.column(c).to_pylist() for c in ("event_time_ms", "event_date", "hour")), strict=True
    ):
        dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
        # pyarrow reads the hive partition `hour=07` back as the integer 7
        assert (str(day), int(hour)) == (dt.strftime("%Y-%m-%d"), dt.hour)


# Crafted sequences: each wallet tells one story; the exact alert set is asserted.
_T0 = 1_773_136_800_000  # 2026-03-10T10:00:00Z
_MIN = 60_000


def _iso(ms: int) -> str:
    from operators.decide import iso_ms

    return iso_ms(ms)


def _line(
    n: int, minutes: float, tx_type: str, wallet: str, amount: float, cp: str = "", ip: str = ""
) -> str:
    return (
        f"tx_crafted_{n:04d},{_iso(int(_T0 + minutes * _MIN))},{tx_type},{wallet},{cp},USDT,"
        f"{amount},,ethereum,,coinex-eu,{ip},,"
    )


def crafted_records() -> tuple[list[str], set[tuple[str, str]]]:
    """CSV lines and the expected {(tx_id, rule_id)} of rule alerts."""
    reference = PROJECT_ROOT / "datasets" / "reference"
    with open(reference / "blocklist.csv", newline="") as f:
        blocked = next(csv.DictReader(f))
    with open(reference / "ip_ranges.csv", newline="") as f:
        ranges = {r["country"]: r["start_ip"] for r in csv.DictReader(f)}
    de_ip, jp_ip = ranges["DE"].rsplit(".", 1)[0] + ".7", ranges["JP"].rsplit(".", 1)[0] + ".7"
    lines, expected, n = [], set(), 0

    def add(minutes, tx_type, wallet, amount, cp="", ip="", rule=None):
        nonlocal n
        n += 1
        lines.append(_line(n, minutes, tx_type, wallet, amount, cp, ip))
        if rule:
            expected.add((f"tx_crafted_{n:04d}", rule))

    for i in range(10):  # 10 trades in 90 s: a burst, completed by the 10th
        add(i * 0.15, "trade", "w_c_burst", 50, rule="velocity_burst" if i == 9 else None)
    for i in range(9):  # 9 trades: one short
        add(i * 0.15, "trade", "w_c_nearburst", 50)
    for i in range(3):  # 3 deposits just below the reporting threshold within 5 h
        add(
            i * 100,
            "deposit",
            "w_c_struct",
            9_500,
            cp="0xabc",
            rule="structuring" if i == 2 else None,
        )
    for i in range(2):  # only 2
        add(i * 100, "deposit", "w_c_nearstruct", 9_500, cp="0xabc")
    add(0, "deposit", "w_c_rapid", 10_000, cp="0xdef")  # in, then 90 % out after 10 min
    add(10, "withdrawal", "w_c_rapid", 9_000, cp="0x123", rule="rapid_in_out")
    add(0, "deposit", "w_c_slow", 10_000, cp="0xdef")  # same, but after 45 min
    add(45, "withdrawal", "w_c_slow", 9_000, cp="0x123")
    add(5, "withdrawal", "w_c_block", 200, cp=blocked["address"], rule="blocklist")
    add(0, "trade", "w_c_geo", 100, ip=de_ip)  # Germany, then Japan 20 min later
    add(20, "trade", "w_c_geo", 100, ip=jp_ip, rule="geo_jump")
    add(0, "transfer", "w_c_rt_a", 5_000, cp="w_c_rt_b")  # A → B, B returns 99 % to A
    add(10, "transfer", "w_c_rt_b", 4_950, cp="w_c_rt_a", rule="round_trip")
    return lines, expected


@pytest.mark.parametrize("parallelism", [1, 2])
def test_job_raises_exactly_the_expected_alerts_on_crafted_sequences(tmp_path, parallelism):
    lines, expected = crafted_records()
    source = tmp_path / "crafted.csv"
    source.write_text("\n".join([CSV_HEADER, *lines]) + "\n")
    paths = run_job(tmp_path, source, parallelism, **NO_MODEL_ALERTS)
    alerts = python_detector_alerts(read_json_lines(paths.alerts))
    got = {(a["tx_id"], rule) for a in alerts for rule in a["rule_ids"]}
    assert got == expected
    assert len({a["alert_id"] for a in alerts}) == len(alerts)


def test_jsonl_source_gives_the_same_results_as_the_offline_replay(tmp_path):
    from datasets.generator import Config, generate_files

    source, labels, wallets = tmp_path / "tx.jsonl", tmp_path / "labels.csv", tmp_path / "w.csv"
    generate_files(Config(events=5_000, seed=3, fmt="jsonl"), source, labels, wallets)
    overrides = {"source.format": "jsonl", "reference.wallets_file": str(wallets)}
    paths = run_job(tmp_path, source, 1, **overrides)

    offline = replay(iter_records(source), Components(load_config(overrides)))
    assert_outputs_match_offline(paths, offline, labels)
