"""Failure injection over the suite's own local stack, 100k events per scenario:

a. the job (driver + JVM with the Python functions) SIGKILLed mid-stream three times;
b. the Kafka broker stopped for 30 s, then started again, while the job runs;
c. the S3 stand-in (moto) frozen for 30 s while the job writes an S3 lake;
d. the warehouse (PostgreSQL) stopped for 30 s while the loader loads;
e. stop-with-savepoint, then restore into a changed job version (one operator added).

After each, counted exactly against the offline replay of the records sent: every valid
transaction once in the processed zone and in the warehouse, every alert once in the alerts
topic and exactly the invalid records in the DLQ topic (both read_committed).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from pipeline.components import Components
from pipeline.config import load_config
from pipeline.offline import replay
from tests.kafka_topics import create_topic
from tests.lake.lake_checks import processed_tx_ids, visible_lake

from .harness import (
    Expected,
    Feeder,
    Job,
    Outcome,
    check_topics,
    check_warehouse,
    compare,
    drop_schema,
    settle,
    wait_until,
    warehouse_counts,
)

pytestmark = [pytest.mark.failure, pytest.mark.stack, pytest.mark.minicluster]

OUTAGE_S = 30
RATE = 1500  # records/s the feeder sends: ~70 s for 100k, so faults land mid-stream
LAKES: dict[str, tuple[Path, Expected]] = {}  # scenario -> its verified local lake (for d)


def _settings(tmp_path: Path, bootstrap: str, wallets: Path, run: str, kind: str) -> dict:
    return {
        "source.kind": "kafka",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": bootstrap,
        "source.kafka_topic": f"tx-{run}",
        "source.kafka_group_id": f"job-{run}",
        "reference.wallets_file": str(wallets),
        "rules.enabled": "false",
        "sink.kind": kind,
        "sink.output_dir": str(tmp_path / "lake"),
        "sink.s3_root": f"s3://fraud-lake/failure-{run}",
        "sink.rollover_interval_ms": "2000",
        "sink.kafka_alerts_enabled": "true",
        "sink.kafka_dlq_enabled": "true",
        "sink.kafka_bootstrap_servers": bootstrap,
        "sink.kafka_alerts_topic": f"alerts-{run}",
        "sink.kafka_dlq_topic": f"dlq-{run}",
        "sink.kafka_transactional_id_prefix": f"failure-{run}",
        "flink.checkpoint_interval_ms": "2000",
        "flink.checkpoint_dir": str(tmp_path / "checkpoints"),
        "flink.log_dir": str(tmp_path / "logs"),
    }


class Scenario:
    """One run: topics, settings, the job, the expected outputs, and the final checks."""

    def __init__(self, name, stack, dataset, tmp_path, kind="local", lines=None):
        self.name, self.stack, self.tmp_path = name, stack, tmp_path
        self.run = f"{name[0]}-{uuid.uuid4().hex[:6]}"
        self.bootstrap = stack.KAFKA_BOOTSTRAP
        self.settings = _settings(tmp_path, self.bootstrap, dataset.wallets, self.run, kind)
        self.cfg = load_config(self.settings)
        self.lines = lines if lines is not None else dataset.lines
        self.topics = {"alerts": f"alerts-{self.run}", "dlq": f"dlq-{self.run}"}
        create_topic(self.bootstrap, self.settings["source.kafka_topic"])  # one partition:
        create_topic(self.bootstrap, self.topics["alerts"])  # the offline replay is then
        create_topic(self.bootstrap, self.topics["dlq"])  # the exact oracle
        self.expected = Expected.of(replay(iter(self.lines), Components(self.cfg)))
        self.outcome = Outcome(
            name,
            events_in=len(self.lines),
            valid_expected=len(self.expected.valid),
        )
        self.job = Job(tmp_path, self.settings)
        self.started = time.monotonic()
        self._mirror = 0

    def feeder(self, lines=None, rate=RATE) -> Feeder:
        topic = self.settings["source.kafka_topic"]
        return Feeder(self.bootstrap, topic, self.lines if lines is None else lines, rate)

    def processed(self) -> Counter:
        """Valid transactions a reader of the lake sees now (S3: a fresh download)."""
        self._mirror += 1
        seen = visible_lake(self.cfg, self.tmp_path / "mirror" / str(self._mirror))
        return Counter(processed_tx_ids(seen))

    def start(self, feeder: Feeder) -> Feeder:
        """Start the job, and the feeder once the job runs (its first checkpoint)."""
        self.job.start()
        self.job.wait_checkpoint_after(0)
        return feeder.start()

    def wait_committed_some(self) -> None:
        wait_until("first committed output", lambda: self.processed(), self.job)

    def wait_all_processed(self, timeout_s: float = 1200) -> None:
        everything = len(self.expected.valid)
        wait_until(
            f"all {everything:,} valid transactions in the lake",
            lambda: len(self.processed()) >= everything,
            self.job,
            timeout_s,
        )
        # Two more checkpoints: the alerts / DLQ transactions of the last one commit too.
        self.job.wait_checkpoint_after(time.time())
        self.job.wait_checkpoint_after(time.time())

    def verify(self, outcomes: list[Outcome]) -> None:
        """Stop the job and count every output; the outcome is recorded before asserting."""
        o = self.outcome
        self.job.stop()
        o.restarts = self.job.restarts
        try:
            lake = self.processed()
            o.processed_out = len(lake)
            counts = {"processed zone": compare(lake, self.expected.valid)}
            counts |= check_topics(o, self.expected, self.bootstrap, self.topics)
            root = (
                self.settings["sink.s3_root"]
                if self.cfg.sink.kind == "s3"
                else str(self.tmp_path / "lake")
            )
            schema = f"failure_{self.run.replace('-', '_')}"
            try:
                counts |= check_warehouse(o, self.expected, self.cfg, root, schema)
            finally:
                drop_schema(self.cfg, schema)
            o.wall_s = time.monotonic() - self.started
            settle(o, counts)
        finally:
            o.wall_s = time.monotonic() - self.started
            outcomes.append(o)


def test_a_job_killed_three_times_mid_stream_loses_and_doubles_nothing(
    failure_stack, dataset, tmp_path, outcomes
):
    sc = Scenario("a. job SIGKILLed 3x", failure_stack, dataset, tmp_path)
    try:
        feed = sc.start(sc.feeder())
        sc.wait_committed_some()
        for _ in range(3):
            time.sleep(3)  # mid-checkpoint-interval, records in flight
            before = sc.processed()
            assert len(before) < len(sc.expected.valid), "stream over before the kill"
            assert max(before.values()) == 1, "a transaction visible twice"
            feed.pause()  # the next kill must find records still to come
            killed_at = time.time()
            sc.job.restart()
            sc.outcome.recovery_s.append(sc.job.wait_checkpoint_after(killed_at))
            feed.resume()
            wait_until("new output after the restart", lambda b=before: sc.processed() != b, sc.job)
        feed.join()
        sc.wait_all_processed()
        assert sc.job.restarts == 3 and sc.job.own_failures == 0
    finally:
        sc.job.stop()
    sc.verify(outcomes)
    LAKES["a"] = (tmp_path / "lake", sc.expected)


def test_b_kafka_broker_down_30s_loses_and_doubles_nothing(
    failure_stack, dataset, tmp_path, outcomes
):
    sc = Scenario("b. Kafka broker down 30 s", failure_stack, dataset, tmp_path)
    try:
        feed = sc.start(sc.feeder())
        sc.job.supervise()
        sc.wait_committed_some()
        assert not feed.done, "stream over before the outage"
        failure_stack.stop_service("kafka")
        time.sleep(OUTAGE_S)
        failure_stack.start_service("kafka")
        back = time.time()
        sc.outcome.recovery_s.append(sc.job.wait_checkpoint_after(back))
        feed.join()
        sc.wait_all_processed()
        sc.outcome.note = f"job failures restarted: {sc.job.own_failures}"
    finally:
        sc.job.stop()
    sc.verify(outcomes)


def test_c_s3_unavailable_30s_loses_and_doubles_nothing(failure_stack, dataset, tmp_path, outcomes):
    sc = Scenario("c. S3 (moto) frozen 30 s, S3 lake", failure_stack, dataset, tmp_path, "s3")
    try:
        feed = sc.start(sc.feeder())
        sc.job.supervise()
        sc.wait_committed_some()
        assert not feed.done, "stream over before the outage"
        # moto keeps buckets and uploads in memory only: a stopped moto would come back
        # empty, so it is frozen (SIGSTOP): connections hang, nothing answers, then resumes.
        failure_stack.pause_service("moto")
        try:
            time.sleep(OUTAGE_S)
        finally:
            failure_stack.resume_service("moto")
        back = time.time()
        sc.outcome.recovery_s.append(sc.job.wait_checkpoint_after(back))
        feed.join()
        sc.wait_all_processed()
        sc.outcome.note = f"job failures restarted: {sc.job.own_failures}"
    finally:
        sc.job.stop()
        failure_stack.resume_service("moto")
    sc.verify(outcomes)


def test_d_warehouse_down_30s_during_loads_loads_every_row_once(
    failure_stack, dataset, tmp_path, outcomes
):
    import dataclasses
    import subprocess
    import sys

    from pipeline.config import PROJECT_ROOT
    from pipeline.warehouse.migrate import migrate
    from pipeline.warehouse.session import open_session

    started = time.monotonic()
    if "a" in LAKES:  # scenario a's lake, already proven exactly-once
        lake, expected = LAKES["a"]
        events = len(dataset.lines)
    else:
        sc = Scenario("d (lake)", failure_stack, dataset, tmp_path)
        sc.feeder(rate=1e9).start().join()
        sc.job.start()
        sc.wait_all_processed()
        sc.job.stop()
        lake, expected, events = tmp_path / "lake", sc.expected, len(sc.lines)
    o = Outcome(
        "d. warehouse down 30 s during loads",
        events_in=events,
        valid_expected=len(expected.valid),
        note="alerts/DLQ topics: not involved (lake → warehouse only)",
    )
    schema = f"failure_d_{uuid.uuid4().hex[:6]}"
    cfg = load_config()
    wcfg = dataclasses.replace(cfg.warehouse, schema=schema, lake_root=str(lake))
    session = open_session(wcfg)
    migrate(session)
    session.close()

    def ledger_rows() -> int:
        s = open_session(wcfg)
        n = s.execute_native("SELECT COUNT(*) FROM load_ledger").fetchone()[0]
        s.close()
        return n

    from pipeline.warehouse.lake import open_lake
    from pipeline.warehouse.loader import Loader

    objects = len(Loader(wcfg, open_lake(wcfg)).listed())  # processed + alerts objects
    loader = subprocess.Popen(
        [sys.executable, "-m", "pipeline.warehouse", "--set", f"warehouse.schema={schema}",
         "--set", f"sink.output_dir={lake}", "--set", "warehouse.poll_interval_s=1",
         "--set", "warehouse.retry_max_backoff_s=4", "load", "--watch"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while (at_stop := ledger_rows()) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        failure_stack.stop_service("postgres")
        time.sleep(OUTAGE_S)
        assert loader.poll() is None, "the loader gave up while the warehouse was down"
        failure_stack.start_service("postgres")
        back = time.time()
        wait_until("a load after the warehouse returned", lambda: ledger_rows() > at_stop, None)
        o.recovery_s.append(time.time() - back)
        assert at_stop < objects, "every object was loaded before the warehouse went down"
        wait_until(f"all {objects} objects loaded", lambda: ledger_rows() >= objects, None, 900)
    finally:
        loader.terminate()
        out = loader.communicate(timeout=60)[0]
    try:
        retries = out.count("warehouse unreachable")
        assert retries > 0, f"the loader never retried:\n{out[-3000:]}"
        o.note = f"loader retries with backoff: {retries}; " + o.note
        from pipeline.sinks import OutputPaths

        lake_ids = Counter(processed_tx_ids(OutputPaths(lake)))
        o.processed_out = len(lake_ids)
        counts = {
            "processed zone": compare(lake_ids, expected.valid),
            "warehouse": warehouse_counts(o, expected, wcfg),
        }
        settle(o, counts)
    finally:
        drop_schema(cfg, schema)
        o.wall_s = time.monotonic() - started
        outcomes.append(o)


def test_e_savepoint_restored_into_job_with_one_more_operator_keeps_state(
    failure_stack, dataset, tmp_path, outcomes
):
    # After the savepoint, 2,000 records of the first part come again (exact resends): the
    # restored dedupe state must drop them all. Offline oracle over the same sequence.
    half = len(dataset.lines) // 2
    resends = dataset.lines[half - 2_000 : half]
    lines = [*dataset.lines[:half], *resends, *dataset.lines[half:]]
    sc = Scenario("e. savepoint → job + 1 operator", failure_stack, dataset, tmp_path, lines=lines)
    trigger, savepoints = tmp_path / "stop-now", tmp_path / "savepoints"
    try:
        _start_savepoint_job(sc.job, trigger, savepoints)
        sc.job.wait_checkpoint_after(0)
        feed = sc.feeder(lines=lines[:half]).start()
        sc.wait_committed_some()
        time.sleep(3)
        assert len(sc.processed()) < len(sc.expected.valid)
        stopped_at = time.time()
        trigger.touch()
        wait_until("the savepoint", lambda: Path(f"{trigger}.done").exists(), sc.job, 600)
        saved_at = time.time()
        savepoint = Path(f"{trigger}.done").read_text().removeprefix("file:")
        assert (Path(savepoint) / "_metadata").is_file(), savepoint
        feed.join()
        at_savepoint = sc.processed()
        assert max(at_savepoint.values()) == 1
        feed = sc.feeder(lines=lines[half:]).start()
        sc.job.start(extra={"flink.alerts_audit_operator": "true", "flink.restore_path": savepoint})
        # recovery: from the stop request until the new version completed a checkpoint
        restored_s = sc.job.wait_checkpoint_after(saved_at)
        sc.outcome.recovery_s.append(saved_at - stopped_at + restored_s)
        feed.join()
        sc.wait_all_processed()
        log = sc.job.log.read_text(errors="replace")
        assert "alerts-audit" in _job_plan_names(sc.tmp_path / "logs") or "alerts-audit" in log
    finally:
        sc.job.stop()
    dropped = Counter(r["tx_id"] for r in _duplicates(sc.tmp_path / "lake"))
    resent_valid = Counter(
        tx for tx in (_tx_id(line) for line in resends) if tx in sc.expected.valid
    )
    assert resent_valid and all(dropped[tx] >= n for tx, n in resent_valid.items()), (
        "resends after the restore were not all dropped: dedupe state lost"
    )
    sc.outcome.note = f"{sum(resent_valid.values()):,} resends after restore dropped"
    sc.verify(outcomes)


def _start_savepoint_job(job: Job, trigger: Path, savepoints: Path) -> None:
    import os
    import subprocess
    import sys

    from pipeline.config import PROJECT_ROOT

    args = [sys.executable, "-m", "tests.failure.savepoint_runner", "stream"]
    for key, value in job.settings.items():
        args += ["--set", f"{key}={value}"]
    args += ["--savepoint-trigger", str(trigger), "--savepoint-dir", str(savepoints)]
    with open(job.log, "ab") as out:
        job.proc = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )


def _job_plan_names(log_dir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in log_dir.glob("*.log"))


def _duplicates(lake: Path) -> list[dict]:
    from pipeline.summary import read_json_lines

    return read_json_lines(lake / "duplicates")


def _tx_id(line: str) -> str | None:
    import orjson

    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value.get("tx_id") if isinstance(value, dict) else None
