"""The polling daemon and concurrent loaders: files that appear later, commits by rename."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.warehouse.lake import LocalLake
from pipeline.warehouse.loader import Loader
from pipeline.warehouse.synthetic import processed_rows
from tests.warehouse.lakefiles import START_MS, alert, alerts_file, parquet_rows, processed_files

pytestmark = pytest.mark.stack


def wait_for(predicate, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_daemon_loads_files_as_flink_commits_them_and_stops_on_sigterm(warehouse, sql):
    root = Path(warehouse.lake_root)
    first = processed_files(root, rows=600, hours=2, seed=41)
    cmd = [
        sys.executable,
        "-m",
        "pipeline.warehouse",
        "--set",
        f"warehouse.schema={warehouse.schema}",
        "--set",
        f"sink.output_dir={warehouse.lake_root}",
        "--set",
        "warehouse.poll_interval_s=0.3",
        "load",
        "--watch",
    ]
    daemon = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: sql("SELECT COUNT(*) FROM scored_transactions")[0][0] == 600)
        # Flink writes a hidden in-progress file, then publishes it by renaming at the
        # checkpoint: the daemon must ignore the first and load the second exactly once.
        d = root / "processed" / "event_date=2026-03-02" / "hour=19"
        d.mkdir(parents=True, exist_ok=True)
        pending = d / ".part-c0ffee-0-7.inprogress.8d2a"
        pq.write_table(
            processed_rows(250, START_MS + 2 * 3_600_000, 3_600_000, 50, seed=42, first_id=10**8),
            pending,
        )
        time.sleep(1.0)
        assert sql("SELECT COUNT(*) FROM scored_transactions")[0][0] == 600
        pending.rename(d / "part-c0ffee-0-7")
        alerts_file(root, "alerts-d-0.jsonl", [alert(i) for i in range(3)])
        wait_for(
            lambda: (
                sql("SELECT COUNT(*) FROM scored_transactions")[0][0] == 850
                and sql("SELECT COUNT(*) FROM alerts")[0][0] == 3
            )
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err[-2000:]
    assert "loaded 4 objects (853 rows)" in out
    assert parquet_rows(first).num_rows == 600
    assert sql("SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM scored_transactions") == [(850, 850)]


def test_two_loaders_at_once_load_each_object_once(warehouse, sql):
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=3000, hours=6, seed=43)
    reports = []

    def run():
        loader = Loader(warehouse, LocalLake(root))
        reports.append(loader.run_once())
        loader.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    loaded = sum(r.count("loaded") for r in reports)
    skipped = sum(r.count("skipped") for r in reports)
    assert loaded == 6 and loaded + skipped == sum(len(r.results) for r in reports)
    n = parquet_rows(files).num_rows
    assert sql("SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM scored_transactions") == [(n, n)]
    assert sql("SELECT COUNT(*) FROM load_ledger") == [(6,)]
