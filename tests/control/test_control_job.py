"""Settings changed at runtime through the control topic, on the local stack's Kafka.

One unbounded job (transactions and control topics of its own) lives through this story,
and each test checks one part of it:
1. wallet A sends 4 rapid withdrawals: under the config (`velocity_burst.min_count` 10)
   no alert;
2. update v1 (`min_count` 3, published with the CLI) is accepted; an invalid update
   (version 2, `min_count` -1) and a stale one (version 1 again) are rejected and audited;
3. wallet B sends 3 → an alert on its 3rd, `settings_version` 1; wallet A's 5th event
   alerts too (A's first 4 had used the old threshold); wallet E pays a blocklisted
   address → a blocklist alert (v1);
4. update v2 (`min_count` 4, blocklist off) is accepted; wallet F pays the blocklisted
   address → no blocklist alert;
5. the job is killed and restored from its last checkpoint (nothing published since):
   wallet G sends 4 → an alert on its 4th (not its 3rd: v1's threshold; not never: the
   config's), `settings_version` 2; wallet H pays the blocklisted address → no alert; the
   audit still holds each update once (the control topic was not re-read).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipeline import control
from pipeline.run import latest_checkpoint
from pipeline.sinks import OutputPaths
from pipeline.summary import read_json_lines, read_processed
from tests.control.kafka_control import (
    BLOCKLISTED,
    burst,
    new_topic,
    send,
    tx_ids,
    wait_for,
)
from tests.jobs import kill_job, start_job

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]

START_S = 300  # a (loaded, shared) machine can take minutes to start a job
STEP_S = 120


def _processed(paths: OutputPaths, ids: list[str]) -> bool:
    table = read_processed(paths.processed, ["tx_id"])
    return table is not None and set(ids) <= set(table.column("tx_id").to_pylist())


def _audit(paths: OutputPaths) -> list[dict]:
    """The committed audit lines in the order the job wrote them (files are read unordered;
    lines of one checkpoint's file keep their order)."""
    return sorted(read_json_lines(paths.root / "control-audit"), key=lambda a: a["processed_at"])


def _rule_alerts(paths: OutputPaths, rule_id: str) -> dict[str, dict]:
    return {a["tx_id"]: a for a in read_json_lines(paths.alerts) if rule_id in a["rule_ids"]}


@pytest.fixture(scope="module", params=[1, 2], ids=["parallelism-1", "parallelism-2"])
def story(request, local_stack, tmp_path_factory):
    out: Path = tmp_path_factory.mktemp("control")
    run = uuid.uuid4().hex[:6]
    w = {name: f"w_ctl_{run}_{name}" for name in "abefgh"}
    tx_topic = new_topic(local_stack, "transactions-control-test")
    control_topic = new_topic(local_stack, "fraud-control-test")
    settings = {
        "source.kind": "kafka",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": local_stack,
        "source.kafka_topic": tx_topic,
        "control.enabled": "true",
        "control.topic": control_topic,
        "flink.checkpoint_interval_ms": "1000",
    }
    cli = [f"--set=control.topic={control_topic}"]
    paths = OutputPaths(out / "lake")
    log = out / "job.log"
    seen: dict = {}

    def send_and_wait(lines: list[str], timeout_s: float = STEP_S) -> None:
        send(local_stack, tx_topic, lines)
        wait_for(
            f"processed {tx_ids(lines)}", lambda: _processed(paths, tx_ids(lines)), timeout_s, log
        )

    def audit_lines(n: int) -> list[dict]:
        return wait_for(
            f"{n} audit lines", lambda: len(_audit(paths)) >= n and _audit(paths), STEP_S, log
        )

    parallelism = request.param  # 2: the broadcast reaches both wallet-risk subtasks
    job = start_job(out, parallelism, **settings)
    try:
        # 1. before any update
        a_before = burst(w["a"], 4)
        send_and_wait(a_before, START_S)
        # 2. v1, then an out-of-range and a stale update (published past the CLI's checks)
        assert control.main([*cli, "set", "--detector", "velocity_burst.min_count=3"]) == 0
        audit_lines(1)
        send(
            local_stack,
            control_topic,
            ['{"version": 2, "detectors": {"velocity_burst": {"min_count": -1}}}'],
        )
        send(
            local_stack,
            control_topic,
            ['{"version": 1, "rules": {"geo_jump": {"enabled": false}}}'],
        )
        audit_lines(3)
        # 3. under v1
        a_after, b = burst(w["a"], 1, start_s=40), burst(w["b"], 3)
        e = burst(w["e"], 1, counterparty=BLOCKLISTED)
        send_and_wait(a_after + b + e)
        seen["v1"] = {"a_before": a_before, "a_after": a_after, "b": b, "e": e}
        # 4. v2: min_count 4, blocklist off
        assert (
            control.main(
                [*cli, "set", "--detector", "velocity_burst.min_count=4", "--disable", "blocklist"]
            )
            == 0
        )
        audit_lines(4)
        f = burst(w["f"], 1, counterparty=BLOCKLISTED)
        send_and_wait(f)
        seen["v2"] = {"f": f}
        seen["audit_before_restart"] = _audit(paths)
        seen["alerts_before_restart"] = read_json_lines(paths.alerts)
        # 5. kill, restore from the last checkpoint (taken after v2: its audit line is
        # committed), nothing new on the control topic
        checkpoint = wait_for(
            "a completed checkpoint", lambda: latest_checkpoint(out / "checkpoints"), STEP_S, log
        )
        kill_job(job)
        job = start_job(out, parallelism, **settings, **{"flink.restore_path": str(checkpoint)})
        g, h = burst(w["g"], 4), burst(w["h"], 1, counterparty=BLOCKLISTED)
        send_and_wait(g + h, START_S)
        seen["restored"] = {"g": g, "h": h}
        yield paths, seen
    finally:
        kill_job(job)


def test_a_threshold_change_applies_to_the_events_after_it_without_a_restart(story):
    paths, seen = story
    velocity = _rule_alerts(paths, "velocity_burst")
    v1 = seen["v1"]
    # A's first 4 events came before v1: under min_count 10 none alerted (under 3 one would)
    assert not set(tx_ids(v1["a_before"])) & set(velocity)
    # after v1: A's 5th event (5 in the window) and B's 3rd alert, recording version 1
    assert velocity[tx_ids(v1["a_after"])[0]]["settings_version"] == 1
    b_ids = tx_ids(v1["b"])
    assert [t for t in b_ids if t in velocity] == [b_ids[2]]
    assert velocity[b_ids[2]]["settings_version"] == 1
    assert "threshold 3 within 300 s" in " ".join(velocity[b_ids[2]]["reasons"])


def test_an_invalid_or_stale_update_is_rejected_audited_and_the_old_version_stays(story):
    paths, seen = story
    audit = seen["audit_before_restart"]
    assert [(a["verdict"], a["version"], a["reason"]) for a in audit] == [
        ("accepted", 1, ""),
        ("rejected", 2, "out_of_range"),
        ("rejected", 1, "stale_version"),
        ("accepted", 2, ""),
    ]
    rejected = audit[1]
    assert "min_count must be >= 1" in rejected["detail"]
    assert rejected["version_in_force"] == 1
    assert rejected["settings_in_force"]["detectors"] == {"velocity_burst": {"min_count": 3}}
    assert '"min_count": -1' in rejected["update"]
    # the events after the rejected update still ran under v1 (alerts carry version 1)
    assert (
        _rule_alerts(paths, "velocity_burst")[tx_ids(seen["v1"]["b"])[2]]["settings_version"] == 1
    )


def test_disabling_a_rule_suppresses_its_alerts(story):
    paths, seen = story
    blocklist = _rule_alerts(paths, "blocklist")
    e_id = tx_ids(seen["v1"]["e"])[0]
    assert blocklist[e_id]["settings_version"] == 1  # on under v1
    assert tx_ids(seen["v2"]["f"])[0] not in blocklist  # off under v2, same transaction shape
    assert tx_ids(seen["restored"]["h"])[0] not in blocklist  # still off after the restore


def test_the_settings_version_survives_a_restart_from_a_checkpoint(story):
    paths, seen = story
    velocity = _rule_alerts(paths, "velocity_burst")
    g_ids = tx_ids(seen["restored"]["g"])
    assert [t for t in g_ids if t in velocity] == [g_ids[3]]  # min_count 4: v2's threshold
    assert velocity[g_ids[3]]["settings_version"] == 2
    # the restored job resumed the control topic at its checkpointed offset: no update was
    # applied (or audited) again
    assert _audit(paths) == seen["audit_before_restart"]
    every = read_json_lines(paths.alerts)
    assert len({a["alert_id"] for a in every}) == len(every)


def test_a_fresh_start_judges_its_first_events_under_the_topics_newest_settings(
    local_stack, tmp_path
):
    """Without the driver's floor, records waiting in the topic would race the re-read of
    the control history and could be judged under the config (version 0)."""
    tx_topic = new_topic(local_stack, "transactions-control-test")
    control_topic = new_topic(local_stack, "fraud-control-test")
    cli = [f"--set=control.topic={control_topic}", "set"]
    assert control.main([*cli, "--detector", "velocity_burst.min_count=3"]) == 0
    send(
        local_stack, control_topic, ['{"version": 2, "rules": {"no_such_rule": {"enabled": true}}}']
    )
    waiting = burst(f"w_ctl_{uuid.uuid4().hex[:6]}_fresh", 3)
    send(local_stack, tx_topic, waiting)
    paths = OutputPaths(tmp_path / "lake")
    job = start_job(
        tmp_path,
        1,
        **{
            "source.kind": "kafka",
            "source.format": "jsonl",
            "source.kafka_bootstrap_servers": local_stack,
            "source.kafka_topic": tx_topic,
            "control.enabled": "true",
            "control.topic": control_topic,
        },
    )
    try:
        log = tmp_path / "job.log"
        wait_for("the waiting events", lambda: _processed(paths, tx_ids(waiting)), START_S, log)
        wait_for("2 audit lines", lambda: len(_audit(paths)) >= 2, STEP_S, log)
    finally:
        kill_job(job)
    velocity = _rule_alerts(paths, "velocity_burst")
    ids = tx_ids(waiting)
    assert [t for t in ids if t in velocity] == [ids[2]]
    assert velocity[ids[2]]["settings_version"] == 1
    # the history is re-read (and audited) once on a fresh start
    assert [(a["verdict"], a["version"], a["reason"]) for a in _audit(paths)] == [
        ("accepted", 1, ""),
        ("rejected", 2, "unknown_rule"),
    ]
