"""The benchmark command (`pipeline/bench.py`) and its /proc sampling (`process_stats.py`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.process_stats import (
    OTHER_STAGE,
    ProcessSampler,
    stage_of,
    thread_cpu_seconds,
)


@pytest.mark.parametrize(
    ("thread", "stage"),
    [
        ("wallet-risk (1/", "wallet-risk: the keyed Python function"),
        ("Source: transac", "source, key extraction, shard batcher, raw zone"),
        ("rules-watermark", "SQL rules: table conversion, filters, UDF calls"),
        ("decode-processe", "processed zone: row decoding, Parquet writer"),
        ("C2 CompilerThre", "JIT compilers (mostly warm-up)"),
        ("GC Thread#0", "garbage collector"),
        ("flink-pekko.act", OTHER_STAGE),
    ],
)
def test_a_thread_name_maps_to_its_stage(thread, stage):
    assert stage_of(thread) == stage


def test_thread_cpu_counts_this_process_busy_thread():
    before = thread_cpu_seconds(os.getpid())[os.getpid()][1]  # the main thread's tid = pid
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    name, after = thread_cpu_seconds(os.getpid())[os.getpid()]
    assert name and after - before >= 0.2
    assert thread_cpu_seconds(2**22 + 1) == {}  # above pid_max: no such process


def test_sampler_measures_a_python_worker_child():
    # A child whose command line names pyflink counts as a Python worker: burn 1 s of CPU
    # while holding 64 MB.
    code = (
        "import time; block = bytearray(64 << 20); end = time.process_time() + 1.0\n"
        "while time.process_time() < end: block[0] = 1  # pyflink worker stand-in"
    )
    with ProcessSampler(interval_s=0.05) as sampler:
        subprocess.run([sys.executable, "-c", code], check=True)
    # The child exited before the last sample: what was seen is what it had used then.
    assert sampler.peaks["python-worker"] >= 64 << 20
    assert sampler.cpu_by_stage()["Python worker processes"] >= 0.7


@pytest.mark.minicluster
def test_bench_prints_both_sides_and_the_jobs_cpu_by_stage():
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "bench", "--events", "3000"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()

    def row(label: str) -> list[str]:
        found = [line for line in lines if line.startswith(label)]
        assert found, f"no {label!r} row in:\n{proc.stdout}"
        return found[0][len(label) :].split()

    assert row("events ") == ["3,000", "3,000"]
    assert row("all records accounted for") == ["yes", "yes"]
    baseline_cpu, job_cpu = (float(v) for v in row("CPU per event, all threads (µs)"))
    assert 0 < baseline_cpu < job_cpu  # the job's start-up alone outweighs 3,000 events
    stages = {
        line.strip().rsplit(None, 2)[0]: float(line.split()[-2])
        for line in _table(lines, "Flink job CPU")
    }
    assert stages["wallet-risk: the keyed Python function"] > 0
    assert stages["source, key extraction, shard batcher, raw zone"] > 0
    # Flink's task times: a row per task (busy, backpressured, idle), or the short-run note.
    tasks = _table(lines, "Flink tasks, steady state")
    assert tasks, proc.stdout
    if "no samples" not in tasks[0]:
        assert any(line.strip().startswith("wallet_risk") for line in tasks), tasks


def _table(lines: list[str], title: str) -> list[str]:
    """The indented rows under the line starting with `title`, up to the first other line."""
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        rows.append(line)
    return rows
