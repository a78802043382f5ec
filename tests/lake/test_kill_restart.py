"""Kill the job mid-stream (SIGKILL of its process group: Python driver and JVM) after it
completed checkpoints, restart it from the last retained checkpoint, and check that the lake
a reader sees holds every valid transaction, and every raw record, exactly once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from pipeline.components import Components
from pipeline.config import PROJECT_ROOT, load_config
from pipeline.offline import replay
from pipeline.run import latest_checkpoint
from tests.kafka_topics import unique_topic
from tests.lake.lake_checks import (
    hidden_files,
    processed_tx_ids,
    raw_zone_lines,
    source_lines,
    utc_now,
    visible_lake,
)
from tests.pipeline.test_job_kafka import produce

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]

EVENTS = 3_000
WAIT_S = 600  # generous: a shared 2-core machine under load starts a job in minutes


def _start_job(log: Path, settings: dict[str, str], restore: bool) -> subprocess.Popen:
    args = [sys.executable, "-m", "pipeline", "stream"]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    if restore:
        args.append("--restore-latest")
    with open(log, "ab") as out:
        # Own process group: the kill reaches the driver and the JVM it started, only them.
        return subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        )


def _kill(job: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(job.pid, signal.SIGKILL)
    job.wait(30)


def _completed_checkpoints(checkpoints: Path) -> int:
    """Highest completed checkpoint number (chk-N with _metadata), 0 if none."""
    done = latest_checkpoint(checkpoints)
    return int(done.name.split("-")[1]) if done else 0


def _wait_for(what: str, condition, job: subprocess.Popen, log: Path, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        if job.poll() is not None:
            pytest.fail(f"job exited ({job.returncode}) before {what}:\n{log.read_text()[-4000:]}")
        time.sleep(1)
    _kill(job)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_job_killed_mid_stream_restarts_from_checkpoint_exactly_once(local_stack, tmp_path, kind):
    from datasets.generator import Config, generate_files

    source, labels, wallets = tmp_path / "tx.jsonl", tmp_path / "labels.csv", tmp_path / "w.csv"
    generate_files(Config(events=EVENTS, seed=21, fmt="jsonl"), source, labels, wallets)
    lines = [line.decode() for line in source_lines(source)]
    topic = unique_topic("lake-restart")
    settings = {
        "source.kind": "kafka",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": local_stack,
        "source.kafka_topic": topic,
        "source.kafka_group_id": topic,
        "reference.wallets_file": str(wallets),
        # The lake, not the SQL rules, is under test: their process-mode Python workers take
        # minutes to start on a loaded 2-core machine (tests/rules covers them).
        "rules.enabled": "false",
        "sink.kind": kind,
        "sink.output_dir": str(tmp_path / "lake"),
        "sink.s3_root": f"s3://fraud-lake/{topic}",
        # Raw files roll after 2 s, so an unbounded run publishes them too.
        "sink.rollover_interval_ms": "2000",
        "flink.checkpoint_interval_ms": "1000",
        "flink.checkpoint_dir": str(tmp_path / "checkpoints"),
        "flink.log_dir": str(tmp_path / "logs"),
    }
    cfg = load_config(settings)
    offline = replay(iter(lines), Components(cfg))
    valid = Counter(s.view.event.tx.tx_id for s in offline.scored)
    log = tmp_path / "job.log"
    checkpoints = tmp_path / "checkpoints"
    started = utc_now()
    mirrors = iter(range(10**6))

    def seen():
        """The lake as a reader sees it now (S3: a fresh download)."""
        return visible_lake(cfg, tmp_path / "mirror" / str(next(mirrors)))

    first_part, second_part = len(lines) // 3, 2 * len(lines) // 3
    produce(local_stack, topic, lines[:first_part])
    job = _start_job(log, settings, restore=False)
    try:
        _wait_for("2 checkpoints", lambda: _completed_checkpoints(checkpoints) >= 2, job, log)
        _wait_for("committed files", lambda: processed_tx_ids(seen()), job, log)
        # More records arrive while the job runs; kill it in the middle of them.
        feeder = threading.Thread(
            target=_produce_paced, args=(local_stack, topic, lines[first_part:second_part], 5.0)
        )
        feeder.start()
        time.sleep(2.5)
        before_kill = Counter(processed_tx_ids(seen()))
        _kill(job)
        feeder.join(60)
        restored_from = latest_checkpoint(checkpoints)
        assert restored_from is not None and _completed_checkpoints(checkpoints) >= 2
        assert max(before_kill.values()) == 1, "a transaction was visible twice before the kill"
        # What the killed job left unfinished (in-progress, pending) stays hidden: readers
        # see a part of the stream, each transaction at most once.
        at_kill = seen()
        after_kill = Counter(processed_tx_ids(at_kill))
        assert max(after_kill.values()) == 1 and set(after_kill) <= set(valid)
        published = _visible_files(at_kill.root)
        assert len(after_kill) < len(valid), "the job had finished before the kill"

        _append(local_stack, topic, lines[second_part:])
        job = _start_job(log, settings, restore=True)
        everything = sum(valid.values())
        _wait_for(
            "every valid transaction",
            lambda: len(processed_tx_ids(seen())) >= everything,
            job,
            log,
        )
        # A few more checkpoints: nothing may appear twice later either.
        time.sleep(4)
        final = seen()
        assert Counter(processed_tx_ids(final)) == valid
        raw = raw_zone_lines(final, started, utc_now())
        assert Counter(line.decode() for line in raw) == Counter(lines)
        assert f"restoring from {restored_from}" in log.read_text()
        # Published files are never rewritten or removed by the restarted job.
        now = _visible_files(final.root)
        assert {k: now.get(k) for k in published} == published
        if kind == "local":
            # Hidden in-progress files may remain from the killed run; no reader sees them.
            assert all(p.name.startswith(".") for p in hidden_files(final.root))
    finally:
        _kill(job)
        if kind == "s3":
            from pipeline.lake import S3Location, clear, s3_client

            clear(s3_client(cfg), S3Location.parse(settings["sink.s3_root"]))


def _visible_files(root: Path) -> dict[str, bytes]:
    """Relative path -> content of every file a reader sees (no '.'/'_' names)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
    }


def _produce_paced(bootstrap: str, topic: str, lines: list[str], seconds: float) -> None:
    """Send `lines` spread over about `seconds` (in ten slices)."""
    step = max(1, len(lines) // 10)
    for i in range(0, len(lines), step):
        _append(bootstrap, topic, lines[i : i + step])
        time.sleep(seconds / 10)


def _append(bootstrap: str, topic: str, lines: list[str]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for line in lines:
        producer.produce(topic, value=line.encode())
    assert producer.flush(30) == 0
