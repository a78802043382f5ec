"""Failure injection: a loader killed before COMMIT, a warehouse that is down."""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.warehouse.connect import WarehouseUnavailable
from pipeline.warehouse.lake import LocalLake
from pipeline.warehouse.loader import FAULT_KILL_BEFORE_COMMIT, Loader
from pipeline.warehouse.methods import PostgresStdinCopy
from pipeline.warehouse.synthetic import processed_rows
from tests.warehouse.lakefiles import (
    START_MS,
    alert,
    alerts_file,
    parquet_rows,
    processed_files,
)
from tests.warehouse.tcp_proxy import TcpProxy

pytestmark = pytest.mark.stack


def run_loader(cfg, workers: int = 1, **env) -> subprocess.CompletedProcess:
    """`python -m pipeline.warehouse load` in its own process (so it can be SIGKILLed);
    one worker by default, so objects go in key order."""
    cmd = [
        sys.executable,
        "-m",
        "pipeline.warehouse",
        "--set",
        f"warehouse.schema={cfg.schema}",
        "--set",
        f"sink.output_dir={cfg.lake_root}",  # the loader reads the lake [sink] names
        "--set",
        f"warehouse.load_workers={workers}",
        "load",
    ]
    return subprocess.run(
        cmd,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_loader_killed_between_copy_and_commit_then_rerun_loads_every_row_once(warehouse, sql):
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=5000, hours=5, seed=11)
    alerts_file(root, "alerts-k-0.jsonl", [alert(i) for i in range(12)])
    lake_rows = parquet_rows(files).num_rows

    # objects load in key order: alerts (1), hour 0 (2), hour 1 (3, killed before COMMIT)
    killed = run_loader(warehouse, **{FAULT_KILL_BEFORE_COMMIT: "3"})

    assert killed.returncode == -9, killed.stderr[-2000:]
    assert "killing the loader before COMMIT" in killed.stderr
    assert sql("SELECT COUNT(*) FROM load_ledger") == [(2,)]
    assert sql("SELECT COUNT(*) FROM scored_transactions") == [(1000,)]  # hour 0 only
    assert sql("SELECT COUNT(*) FROM alerts") == [(12,)]

    rerun = run_loader(warehouse)

    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "loaded 4 objects" in rerun.stdout
    assert sql("SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM scored_transactions") == [
        (lake_rows, lake_rows)
    ]
    assert sql("SELECT COUNT(*) FROM alerts") == [(12,)]
    assert sql("SELECT COUNT(*), SUM(row_count) FROM load_ledger WHERE status = 'loaded'") == [
        (6, lake_rows + 12)
    ]
    assert sql("SELECT SUM(tx_count) FROM wallet_minute_rollups") == [(lake_rows,)]


def test_two_workers_killed_mid_load_then_rerun_load_every_row_once(warehouse, sql):
    """`warehouse.load_workers` = 2: objects load in two transactions at once, several of
    them sharing hours (their rollup refreshes take turns). The process is SIGKILLed when
    the 5th object reaches COMMIT, whichever worker has it; the rerun loads what is missing,
    once, and every rollup equals a recompute from the loaded rows."""
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=6000, hours=3, seed=13)
    for h, path in enumerate(list(files)):  # a second file in each hour: shared minutes
        extra = path.with_name(f"part-b-{h}")
        pq.write_table(
            processed_rows(1000, START_MS + h * 3_600_000, 3_600_000, 300, 40 + h, 10**7 * (h + 1)),
            extra,
        )
        files.append(extra)
    lake_rows = parquet_rows(files).num_rows

    killed = run_loader(warehouse, workers=2, **{FAULT_KILL_BEFORE_COMMIT: "5"})

    assert killed.returncode == -9, killed.stderr[-2000:]
    loaded_before = sql("SELECT COUNT(*) FROM load_ledger")[0][0]
    assert 3 <= loaded_before <= 5  # the killed one and at most the other worker's open one lost
    rerun = run_loader(warehouse, workers=2)

    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert sql("SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM scored_transactions") == [
        (lake_rows, lake_rows)
    ]
    assert sql("SELECT COUNT(*) FROM load_ledger WHERE status = 'loaded'") == [(len(files),)]
    mismatched = sql(
        """SELECT COUNT(*) FROM wallet_minute_rollups r FULL JOIN (
             SELECT wallet_id, DATE_TRUNC('minute', event_time) AS minute, COUNT(*) AS n,
                    COUNT(DISTINCT counterparty_wallet) AS cps
             FROM scored_transactions GROUP BY 1, 2) t
           ON r.wallet_id = t.wallet_id AND r.minute = t.minute
           WHERE r.tx_count IS DISTINCT FROM t.n
              OR r.distinct_counterparties IS DISTINCT FROM t.cps"""
    )
    assert mismatched == [(0,)]


def test_warehouse_down_is_retried_with_backoff_until_it_returns(warehouse, sql, caplog):
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=2000, hours=2, seed=12)
    proxy = TcpProxy(warehouse.port)  # nothing listens yet: connection refused
    cfg = dataclasses.replace(warehouse, port=proxy.port, connect_timeout_s=2)
    loader = Loader(cfg, LocalLake(root))
    result: dict = {}
    caplog.set_level(logging.WARNING, logger="pipeline.warehouse.connect")

    worker = threading.Thread(target=lambda: result.setdefault("report", loader.run_once()))
    worker.start()
    time.sleep(1.5)
    assert worker.is_alive() and "report" not in result  # still waiting, nothing skipped
    proxy.start()
    worker.join(60)
    proxy.stop()
    loader.close()

    retries = [r.getMessage() for r in caplog.records if "warehouse unreachable" in r.getMessage()]
    assert len(retries) >= 3, retries
    waits = [float(m.rsplit(" in ", 1)[1].split()[0]) for m in retries]
    assert waits[2] > waits[0]  # exponential: 0.05, 0.1, 0.2 … (±20 %)
    assert result["report"].count("loaded") == 2
    n = parquet_rows(files).num_rows
    assert sql("SELECT COUNT(*) FROM scored_transactions") == [(n,)]


def test_connection_cut_mid_load_is_retried_and_loads_once(warehouse, sql, monkeypatch):
    """Both workers' connections are cut while one holds an uncommitted load."""
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=4000, hours=4, seed=13)
    proxy = TcpProxy(warehouse.port)
    proxy.start()
    cfg = dataclasses.replace(warehouse, port=proxy.port, connect_timeout_s=2)
    assert cfg.load_workers == 2
    loader = Loader(cfg, LocalLake(root))
    cut = threading.Event()
    real_load = PostgresStdinCopy.load

    def load_then_cut(method, session, lake, obj, *args):
        stats = real_load(method, session, lake, obj, *args)
        if obj.key.endswith("-1") and not cut.is_set():  # second file, before its COMMIT
            cut.set()
            proxy.stop()
            threading.Timer(0.5, proxy.start).start()
        return stats

    monkeypatch.setattr(PostgresStdinCopy, "load", load_then_cut)  # every worker's
    report = loader.run_once()
    loader.close()
    proxy.stop()

    assert cut.is_set()
    assert proxy.accepted >= 2  # the cut connection was replaced
    assert report.count("loaded") == 4
    n = parquet_rows(files).num_rows
    assert sql("SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM scored_transactions") == [(n, n)]


def test_giving_up_loses_no_file(warehouse, sql):
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=1000, hours=1, seed=14)
    proxy = TcpProxy(warehouse.port)  # never started
    down = dataclasses.replace(warehouse, port=proxy.port, retry_max_attempts=3)
    with pytest.raises(WarehouseUnavailable, match="after 3 attempts"):
        Loader(down, LocalLake(root)).run_once()
    assert sql("SELECT COUNT(*) FROM load_ledger") == [(0,)]
    report = Loader(warehouse, LocalLake(root)).run_once()  # the warehouse is back
    assert report.count("loaded") == 1
    assert sql("SELECT COUNT(*) FROM scored_transactions") == [(parquet_rows(files).num_rows,)]
