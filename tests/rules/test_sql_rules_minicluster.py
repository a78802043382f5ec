"""The shipped SQL rules on Flink: each fires on its crafted sequence and stays silent on its
near misses, and where a Python detector has the same typology both alert the same
transactions (crafted sequences and the committed sample). Runs `python -m pipeline rules
test` (a fresh JVM, as a user runs it) once per input, every rule in one job."""

from __future__ import annotations

import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import jsonschema
import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.rule_files import DETECTOR_TWINS_DIR
from tests.factories import components, sample_replay
from tests.jobs import run_checked
from tests.rules.crafted import all_cases, write_csv

pytestmark = pytest.mark.minicluster

RULES_DIR = PROJECT_ROOT / "sql" / "rules"  # the job's default rules
TWINS_DIR = PROJECT_ROOT / DETECTOR_TWINS_DIR  # SQL twins of the Python detectors
# SQL rule id -> the Python detector of the same typology
PARITY = {
    "rapid_in_out_sql": "rapid_in_out",
    "structuring_sql": "structuring",
    "round_trip_sql": "round_trip",
    "blocklist_sql": "blocklist",
    "velocity_burst_sql": "velocity_burst",
    "geo_jump_sql": "geo_jump",
}


def run_rules(rules: Path, events: Path, out: Path) -> list[dict]:
    """`python -m pipeline rules test <rules> --events <events>`: the alerts it wrote."""
    alerts_file = out / "alerts.jsonl"
    args = [sys.executable, "-m", "pipeline", "rules", "test", str(rules), "--events", str(events)]
    args += ["--output", str(alerts_file)]
    for key, value in {
        "flink.log_dir": out / "logs",
        "flink.checkpoint_dir": out / "checkpoints",
    }.items():
        args += ["--set", f"{key}={value}"]
    run_checked(args)
    return [json.loads(line) for line in alerts_file.read_text().splitlines()]


def by_rule(alerts) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for a in alerts:
        for rule_id in a["rule_ids"]:
            out[rule_id].add(a["tx_id"])
    return out


def shipped_rules() -> list[Path]:
    """Every rule the project ships: the job's default ones and the detector twins."""
    return sorted([*RULES_DIR.glob("*.sql"), *TWINS_DIR.glob("*.sql")])


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crafted")
    cases = all_cases()
    events = write_csv(cases, tmp / "events.csv")
    rules = tmp / "rules"
    rules.mkdir()
    for path in shipped_rules():
        shutil.copy(path, rules)
    return cases, events, run_rules(rules, events, tmp)


def test_every_shipped_rule_has_a_crafted_case(crafted):
    cases, _, _ = crafted
    assert {c.rule_id for c in cases} == {p.stem for p in shipped_rules()}


def test_the_twins_are_not_in_the_jobs_default_rules():
    twins = {p.stem for p in TWINS_DIR.glob("*.sql")}
    assert twins == set(PARITY)
    assert not twins & {p.stem for p in RULES_DIR.glob("*.sql")}


@pytest.mark.parametrize(
    "case_index", range(len(all_cases())), ids=[c.rule_id for c in all_cases()]
)
def test_rule_fires_on_its_sequence_and_not_on_near_misses(crafted, case_index):
    cases, _, alerts = crafted
    case = cases[case_index]
    fired = {
        a["tx_id"]
        for a in alerts
        if a["rule_ids"] == [case.rule_id] and a["wallet_id"] in case.wallets
    }
    assert fired == case.fires
    assert case.near_miss_wallets <= case.wallets
    near_miss_alerts = {
        a["tx_id"]
        for a in alerts
        if a["rule_ids"] == [case.rule_id] and a["wallet_id"] in case.near_miss_wallets
    }
    assert near_miss_alerts == set()


def test_sql_alerts_follow_the_alert_contract(crafted):
    _, _, alerts = crafted
    schema = json.loads((PROJECT_ROOT / "contracts" / "alert.v1.schema.json").read_text())
    assert alerts
    for alert in alerts:
        jsonschema.validate(alert, schema)
        assert alert["rules_version"].startswith("sql-rules-v1+")
    severities = {a["tx_id"]: a["severity"] for a in alerts if a["rule_ids"] == ["blocklist_sql"]}
    assert severities == {"bl_f_mixer": "high", "bl_f_sanct": "critical"}


def test_sql_rules_and_python_detectors_alert_the_same_crafted_transactions(crafted):
    _, events, alerts = crafted
    from pipeline.offline import iter_records, replay

    offline = replay(iter_records(events), components("csv"))
    python = by_rule({"rule_ids": a.rule_ids, "tx_id": a.tx_id} for a in offline.alerts)
    sql = by_rule(alerts)
    for sql_rule, detector in PARITY.items():
        expected = set(python[detector])
        if sql_rule == "velocity_burst_sql":
            # Documented difference: the detector consumes the events of a hit and counts
            # again, so 22 dust withdrawals 30 s apart hit at the 10th and the 20th; the
            # OVER window counts 11 in the 5 min before the 20th (README, Rules in Flink SQL).
            assert "df_f19" in expected
            expected.discard("df_f19")
        assert sql[sql_rule] == expected, sql_rule
        assert expected, f"{detector} never fires on the crafted sequences"


def test_sql_rules_and_python_detectors_alert_the_same_sample_transactions(tmp_path):
    """The committed sample (40,000 records, 16 instances per typology, ~2 % out of order)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for rule_id in PARITY:
        shutil.copy(TWINS_DIR / f"{rule_id}.sql", rules)
    sample = PROJECT_ROOT / "datasets" / "sample_transactions.csv"
    sql = by_rule(run_rules(rules, sample, tmp_path))
    python = by_rule({"rule_ids": a.rule_ids, "tx_id": a.tx_id} for a in sample_replay().alerts)
    for sql_rule, detector in PARITY.items():
        assert python[detector], detector
        assert sql[sql_rule] == python[detector], sql_rule
