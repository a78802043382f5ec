"""Lake contents for warehouse tests: processed Parquet, alerts JSON lines, Flink leftovers."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.warehouse.synthetic import processed_rows, write_hourly_files

START_MS = 1_772_470_800_000  # 2026-03-02T17:00:00Z


def processed_files(root: Path, rows: int = 3000, hours: int = 3, seed: int = 1) -> list[Path]:
    """Hourly processed-zone Parquet files with the job's exact schema."""
    return write_hourly_files(root, rows, START_MS, hours, wallets=300, seed=seed)


def flink_leftovers(root: Path) -> list[Path]:
    """What a FileSink / filesystem sink leaves beside committed files: never to be loaded."""
    d = root / "processed" / "event_date=2026-03-02" / "hour=17"
    d.mkdir(parents=True, exist_ok=True)
    table = processed_rows(10, START_MS, 1000, 5, seed=99, first_id=10**9)
    paths = [
        d / ".part-abc-0-3.inprogress.1f2e",
        d / "part-abc-0-4.inprogress.77aa",
        d / "_SUCCESS",
        root / "processed" / ".staging_1700000000" / "part-x",
    ]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, p) if "SUCCESS" not in p.name else p.write_text("")
    return paths


def parquet_rows(paths: list[Path]) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in paths)


def alert(i: int, wallet: str = "w_1", **overrides) -> dict:
    rec = {
        "alert_id": f"a{i:08d}",
        "tx_id": f"tx_{i}",
        "wallet_id": wallet,
        "event_time": "2026-03-02T17:05:36.616Z",
        "detected_at": "2026-11-29T00:32:14.505Z",
        "rule_ids": ["rapid_in_out", "model_score"],
        "severity": "critical",
        "score": 0.98,
        "model_version": "gbt-test",
        "rules_version": "python-detectors-v1",
        "features": {"log_amount_usd": 10.15, "kyc_tier": 1.0},
    }
    rec.update(overrides)
    return rec


def alerts_file(root: Path, name: str, records: list[dict]) -> Path:
    p = root / "alerts" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(json.dumps(r) + "\n" for r in records))
    return p
