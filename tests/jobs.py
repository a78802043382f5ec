"""Running the real job from tests: `python -m pipeline run` in a subprocess (a fresh JVM, as
a user runs it), with its outputs under a test's temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.config import PROJECT_ROOT
from pipeline.sinks import OutputPaths


def _job_command(out: Path, source: Path, parallelism: int, overrides: dict) -> list[str]:
    settings = {
        "source.path": str(source),
        "sink.output_dir": str(out / "lake"),
        "flink.checkpoint_dir": str(out / "checkpoints"),
        "flink.log_dir": str(out / "logs"),
        "flink.parallelism": str(parallelism),
        "flink.checkpoint_interval_ms": "2000",
        **overrides,
    }
    args = [sys.executable, "-m", "pipeline", "run"]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    return args


def run_checked(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a command of the project (e.g. `python -m pipeline …`) from its root, as a user
    would; a failure fails the test with the tail of its output. `env` adds variables."""
    proc = subprocess.run(
        args,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def run_job(out: Path, source: Path, parallelism: int, **overrides: str) -> OutputPaths:
    """Run the job on `source` with config `overrides`; a failure fails the test with its log."""
    run_checked(_job_command(out, source, parallelism, overrides))
    return OutputPaths(out / "lake")


def python_detector_alerts(alerts: list[dict]) -> list[dict]:
    """The alerts of the Python detectors and the model (not of the SQL rules, which the
    offline replay does not run; tests/rules/ compares those)."""
    from pipeline.config import load_config

    version = load_config().decision.rules_version
    return [a for a in alerts if a["rules_version"] == version]


def start_job(out: Path, parallelism: int, **overrides: str) -> subprocess.Popen:
    """Start an unbounded job in its own process group (the PyFlink JVM is a child of it),
    logging to `out`/job.log; stop it with `kill_job`."""
    log = open(out / "job.log", "ab")  # noqa: SIM115 - owned by the process, closed by kill_job
    proc = subprocess.Popen(
        _job_command(out, out / "unused", parallelism, overrides),
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        start_new_session=True,
    )
    proc.log = log
    return proc


def kill_job(proc: subprocess.Popen) -> None:
    """Kill a job started by `start_job` at once, JVM included (a crash: no clean shutdown)."""
    import contextlib
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.log.close()


def assert_outputs_match_offline(paths: OutputPaths, offline, labels: Path) -> dict[str, list]:
    """The job's committed outputs equal the offline replay's: the processed set (each
    transaction once), the alert set, and a DLQ reason per malformed record of `labels`.
    Returns the outputs read, for further checks."""
    import csv
    from collections import Counter

    from pipeline.summary import read_json_lines, read_processed

    processed = read_processed(paths.processed, ["tx_id"]).column("tx_id").to_pylist()
    assert len(processed) == len(set(processed)), "a transaction was written twice"
    assert sorted(processed) == sorted(s.view.event.tx.tx_id for s in offline.scored)
    alerts = python_detector_alerts(read_json_lines(paths.alerts))
    assert {(a["alert_id"], tuple(a["rule_ids"])) for a in alerts} == {
        (a.alert_id, a.rule_ids) for a in offline.alerts
    }
    with open(labels, newline="") as f:
        malformed = [r for r in csv.DictReader(f) if r["noise"] == "malformed"]
    dlq = read_json_lines(paths.dlq)
    assert Counter(r["reason"] for r in dlq) == Counter(r["expected_reason"] for r in malformed)
    return {"processed": processed, "alerts": alerts, "dlq": dlq}
