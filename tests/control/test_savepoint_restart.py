"""Adding an SQL rule = stop with a savepoint, restart from it with the new rule file: the
per-wallet detector state and the runtime settings survive.

The SQL rules run in the job (they change the table part of the graph, so the restart
passes `flink.restore_ignore_unclaimed_state`, README "In the job, and changing rules"). The
new rule file changes what the restarted job knows: an update turning the new rule off is
rejected as `unknown_rule` before the restart and accepted after it.

Story: the job runs with every shipped rule but `risky_large_withdrawal`; update v1 sets
`velocity_burst.min_count` to 8; wallet A sends 5 rapid withdrawals (no alert); the job
is stopped with a savepoint; the rule file is added; the job restarts from the savepoint;
wallet A sends 3 more → an alert on A's 8th (5 remembered + 3 new, under v1), wallet B
sends 3 → nothing (no history); turning the new rule off is accepted now.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from pipeline import control
from pipeline.config import PROJECT_ROOT
from pipeline.sinks import OutputPaths
from pipeline.summary import read_json_lines, read_processed
from tests.control.kafka_control import burst, new_topic, send, tx_ids, wait_for
from tests.control.test_control_job import START_S, STEP_S, _audit, _processed, _rule_alerts
from tests.jobs import kill_job, start_job

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]

NEW_RULE = "risky_large_withdrawal"


def _savepoint_from(log) -> str | None:
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("savepoint "):
            return line.split(" ", 1)[1].strip()
    return None


def test_state_and_settings_survive_a_savepoint_restart_that_adds_an_sql_rule(
    local_stack, tmp_path
):
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in (PROJECT_ROOT / "sql" / "rules").glob("*.sql"):
        if path.stem != NEW_RULE:
            shutil.copy(path, rules)
    run = uuid.uuid4().hex[:6]
    wallet_a, wallet_b = f"w_sp_{run}_a", f"w_sp_{run}_b"
    tx_topic = new_topic(local_stack, "transactions-savepoint-test")
    control_topic = new_topic(local_stack, "fraud-control-savepoint-test")
    settings = {
        "source.kind": "kafka",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": local_stack,
        "source.kafka_topic": tx_topic,
        "control.enabled": "true",
        "control.topic": control_topic,
        "rules.dir": str(rules),
        "rules.enabled": "true",
        "sink.output_dir": str(tmp_path / "lake"),
        "flink.checkpoint_dir": str(tmp_path / "checkpoints"),
        "flink.log_dir": str(tmp_path / "logs"),
        "flink.checkpoint_interval_ms": "1000",
    }
    cli = [f"--set=control.topic={control_topic}", f"--set=rules.dir={rules}"]
    paths = OutputPaths(tmp_path / "lake")
    stop_file, first_log = tmp_path / "stop", tmp_path / "first.log"

    # 1. first run: v1, a rejected update naming the rule not yet there, 5 events of A
    with open(first_log, "wb") as log:
        first = subprocess.Popen(
            [sys.executable, "-m", "tests.control.savepoint_job", "--stop-file", str(stop_file)]
            + ["--savepoint-dir", str(tmp_path / "savepoints")]
            + [f"--set={k}={v}" for k, v in settings.items()],
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            start_new_session=True,
        )
    first.log = open(first_log, "rb")  # noqa: SIM115 - closed by kill_job
    try:
        assert control.main([*cli, "set", "--detector", "velocity_burst.min_count=8"]) == 0
        a_before = burst(wallet_a, 5)
        send(local_stack, tx_topic, a_before)
        wait_for(
            "A's first events", lambda: _processed(paths, tx_ids(a_before)), START_S, first_log
        )
        send(
            local_stack,
            control_topic,
            [f'{{"version": 2, "rules": {{"{NEW_RULE}": {{"enabled": false}}}}}}'],
        )
        wait_for("2 audit lines", lambda: len(_audit(paths)) >= 2, STEP_S, first_log)
        stop_file.touch()
        savepoint = wait_for("the savepoint", lambda: _savepoint_from(first_log), STEP_S, first_log)
        assert first.wait(timeout=STEP_S) == 0
    finally:
        kill_job(first)

    # 2. the new rule file, a restart from the savepoint, 3 more events of A, 3 of B
    shutil.copy(PROJECT_ROOT / "sql" / "rules" / f"{NEW_RULE}.sql", rules)
    restart = {"flink.restore_path": savepoint, "flink.restore_ignore_unclaimed_state": "true"}
    job = start_job(tmp_path, 1, **settings, **restart)
    try:
        a_after, b = burst(wallet_a, 3, start_s=50), burst(wallet_b, 3)
        send(local_stack, tx_topic, a_after + b)
        wait_for(
            "the events after the restart",
            lambda: _processed(paths, tx_ids(a_after + b)),
            START_S,
            tmp_path / "job.log",
        )
        assert control.main([*cli, "set", "--disable", NEW_RULE]) == 0
        wait_for("3 audit lines", lambda: len(_audit(paths)) >= 3, STEP_S, tmp_path / "job.log")
    finally:
        kill_job(job)

    velocity = _rule_alerts(paths, "velocity_burst")
    a_ids = tx_ids(a_before + a_after)
    assert [t for t in a_ids if t in velocity] == [a_ids[7]]  # 5 before + 3 after, min_count 8
    assert velocity[a_ids[7]]["settings_version"] == 1
    assert not set(tx_ids(b)) & set(velocity)
    audit = _audit(paths)
    assert [(a["verdict"], a["version"], a["reason"]) for a in audit] == [
        ("accepted", 1, ""),
        ("rejected", 2, "unknown_rule"),  # before the restart: no such rule file
        # after it the new rule is known (the CLI, replaying the topic against today's rule
        # files, counted version 2 as accepted, so it numbered this update 3)
        ("accepted", 3, ""),
    ]
    processed = read_processed(paths.processed, ["tx_id"]).column("tx_id").to_pylist()
    assert sorted(processed) == sorted(tx_ids(a_before + a_after + b))  # each exactly once
    alerts = read_json_lines(paths.alerts)
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
