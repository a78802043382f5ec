"""Warehouse benchmark: load N synthetic processed-zone rows with the real loader, then time
typical BI queries. `python -m pipeline.warehouse bench --rows 10000000` / `make bench-warehouse`.

1. Writes N rows as hourly Parquet files (processed-zone layout and schema) spanning
   `--days` up to the current hour, cached in .bench/warehouse/.
2. Loads them into a fresh schema `<warehouse.schema>_bench` with the daemon's Loader
   (binary COPY + ledger + rollup refresh per file, one transaction per file,
   `warehouse.load_workers` files at once): rows/s and CPU seconds per row.
3. Baselines on the same rows in the same run (rolled back): executemany INSERT and a
   text (CSV) COPY.
4. ANALYZE, then each BI query `--runs` times: p50 / p95 latency (target < 1 s); again
   after a VACUUM (autovacuum's steady state: pages all-visible, index-only scans).
5. Peak memory of this process and the warehouse's size on disk.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.config import PROJECT_ROOT, PipelineConfig
from pipeline.process_stats import self_cpu_seconds, self_peak_rss
from pipeline.warehouse import pgbinary
from pipeline.warehouse.lake import LocalLake
from pipeline.warehouse.loader import Loader
from pipeline.warehouse.methods import SCORED, LoadStats, PostgresStdinCopy, stage_columns
from pipeline.warehouse.migrate import migrate
from pipeline.warehouse.session import open_session
from pipeline.warehouse.synthetic import write_hourly_files

BENCH_DIR = PROJECT_ROOT / ".bench" / "warehouse"
LOADER_FLOOR_ROWS_S = 100_000
QUERY_TARGET_S = 1.0


def _queries(now: datetime, wallet_typical: str, wallet_busy: str) -> list[tuple[str, str, tuple]]:
    hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
    month_ago = now - timedelta(days=30)
    history = (
        "SELECT tx_id, event_time, tx_type, asset, amount_usd, score, alerted, rule_ids"
        " FROM scored_transactions WHERE wallet_id = %s AND event_time >= %s"
        " ORDER BY event_time"
    )
    return [
        (
            "last hour's fraud rate by asset",
            "SELECT asset, COUNT(*) AS tx, SUM(CASE WHEN alerted THEN 1 ELSE 0 END) AS alerts,"
            " SUM(CASE WHEN alerted THEN 1 ELSE 0 END)::float8 / COUNT(*) AS fraud_rate"
            " FROM scored_transactions WHERE event_time >= %s GROUP BY asset ORDER BY asset",
            (hour_ago,),
        ),
        ("one wallet's 30-day history (typical wallet)", history, (wallet_typical, month_ago)),
        ("one wallet's 30-day history (busiest wallet)", history, (wallet_busy, month_ago)),
        (
            "top 100 risky wallets today (last 24 h)",
            "SELECT wallet_id, COUNT(*) AS alerts, MAX(score) AS max_score,"
            " SUM(amount_usd) AS usd FROM scored_transactions"
            " WHERE alerted AND event_time >= %s GROUP BY wallet_id"
            " ORDER BY alerts DESC, max_score DESC LIMIT 100",
            (day_ago,),
        ),
        (
            "BI view v_fraud_rate_hourly, last 3 hours",
            "SELECT hour, asset, venue, tx_count, fraud_rate FROM v_fraud_rate_hourly"
            " WHERE hour >= %s",
            ((now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0),),
        ),
    ]


def _generate(rows: int, days: int, wallets: int) -> tuple[Path, datetime]:
    """The synthetic lake (cached) and its end time, which the queries take as "now"."""
    root = BENCH_DIR / f"lake-{rows}-{days}d-{wallets}w"
    done = root / ".complete"
    if done.exists():
        end = datetime.fromisoformat(done.read_text().strip())
        print(f"reusing generated rows in {root} (ending {end:%Y-%m-%d %H:%M} UTC)")
        return root, end
    shutil.rmtree(root, ignore_errors=True)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    end += timedelta(hours=1)
    start_ms = int((end - timedelta(days=days)).replace(tzinfo=UTC).timestamp() * 1000)
    t0 = time.perf_counter()
    files = write_hourly_files(root, rows, start_ms, days * 24, wallets, seed=23)
    size = sum(f.stat().st_size for f in files)
    print(
        f"generated {rows:,} rows in {len(files)} Parquet files ({size / 2**20:,.0f} MiB)"
        f" in {time.perf_counter() - t0:.1f} s -> {root}"
    )
    done.write_text(end.isoformat())
    return root, end


def _baselines(session, lake: LocalLake, rows: int) -> dict[str, float]:
    """rows/s of executemany INSERT, a text CSV COPY and the loader's binary COPY step
    alone (no rollups, ledger or commit) on the first `rows` rows."""
    columns = stage_columns(session, SCORED.stage)
    names = [c for c, _ in columns]
    tables, have = [], 0
    for obj in lake.list("processed/"):
        t = pq.read_table(obj.uri, columns=names)
        tables.append(t)
        have += t.num_rows
        if have >= rows:
            break
    table = pa.concat_tables(tables).slice(0, rows)
    table = table.append_column(
        "event_time", table.column("event_time_ms").cast(pa.timestamp("ms"))
    )
    table = table.append_column("load_id", pa.array(np.zeros(table.num_rows, dtype=np.int64)))
    cols = ", ".join(table.column_names)
    out = {}
    cur = session.cursor()
    data = list(zip(*(c.to_pylist() for c in table.columns), strict=True))
    t0 = time.perf_counter()
    marks = ", ".join(["%s"] * table.num_columns)
    cur.executemany(f"INSERT INTO scored_transactions ({cols}) VALUES ({marks})", data)
    out["executemany INSERT (psycopg)"] = table.num_rows / (time.perf_counter() - t0)
    session.rollback()
    t0 = time.perf_counter()
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    with cur.copy(f"COPY scored_transactions ({cols}) FROM STDIN (FORMAT csv)") as cp:
        cp.write(buf.getbuffer())
    out["text COPY (pyarrow CSV)"] = table.num_rows / (time.perf_counter() - t0)
    session.rollback()
    # the loader's own COPY step alone (wallet-sorted binary, one stream), same rows
    t0 = time.perf_counter()
    stats = LoadStats()
    with cur.copy(f"COPY scored_transactions ({cols}) FROM STDIN (FORMAT binary)") as cp:
        cp.write(pgbinary.HEADER)
        for buf in PostgresStdinCopy._encoded([table.select(names)], 0, stats):
            cp.write(buf)
        cp.write(pgbinary.TRAILER)
    out["binary COPY (loader's encoding)"] = table.num_rows / (time.perf_counter() - t0)
    session.rollback()
    return out


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _time_queries(session, queries, runs: int, when: str) -> float:
    """Run each query `runs` times, print p50 / p95 / max; returns the worst p95 (s)."""
    print(f"\nBI queries {when}, {runs} runs each (target < {QUERY_TARGET_S:.0f} s):")
    print(f"  {'query':48} {'rows':>7} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
    worst = 0.0
    for name, query, params in queries:
        times, n = [], 0
        for _ in range(runs):
            t0 = time.perf_counter()
            n = len(session.execute_native(query, params).fetchall())
            times.append(time.perf_counter() - t0)
            session.commit()
        worst = max(worst, _pct(times, 95))
        print(
            f"  {name:48} {n:>7,} {_pct(times, 50) * 1000:>9.1f} {_pct(times, 95) * 1000:>9.1f}"
            f" {max(times) * 1000:>9.1f}"
        )
    return worst


def run_bench(cfg: PipelineConfig, args) -> int:
    wcfg = dataclasses.replace(
        cfg.warehouse, schema=f"{cfg.warehouse.schema}_bench", lake_root=str(BENCH_DIR)
    )
    print(
        f"warehouse bench: {args.rows:,} rows over {args.days} days, {args.wallets:,} wallets;"
        f" PostgreSQL {wcfg.host}:{wcfg.port}/{wcfg.database} schema {wcfg.schema};"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    root, now = _generate(args.rows, args.days, args.wallets)

    session = open_session(wcfg)
    session.execute_native(f"DROP SCHEMA IF EXISTS {wcfg.schema} CASCADE")
    session.commit()
    migrate(session)

    lake = LocalLake(root)
    loader = Loader(dataclasses.replace(wcfg, lake_root=str(root)), lake)
    busy0, client_cpu0 = _machine_busy_s(), self_cpu_seconds()
    t0 = time.perf_counter()
    report = loader.run_once()
    load_s = time.perf_counter() - t0
    # PostgreSQL's backends come and go with the workers' connections: count the rest of
    # the machine instead (PostgreSQL, plus whatever else runs: keep the machine quiet).
    client_cpu = self_cpu_seconds() - client_cpu0
    server_cpu = _machine_busy_s() - busy0 - client_cpu
    loader.close()
    loaded = report.rows
    copy_s = sum(r.copy_s for r in report.results)
    rollup_s = sum(r.rollup_s for r in report.results)
    rate = loaded / load_s
    print(
        f"\nloader: {loaded:,} rows in {report.count('loaded')} objects in {load_s:.1f} s"
        f" = {rate:,.0f} rows/s, {wcfg.load_workers} worker(s)"
        f" (floor {LOADER_FLOOR_ROWS_S:,}: "
        f"{'met' if rate >= LOADER_FLOOR_ROWS_S else 'NOT met'})"
    )
    print(
        f"  summed over the workers: COPY {copy_s:.1f} s, rollup refresh {rollup_s:.1f} s,"
        f" whole object loads {sum(r.seconds for r in report.results):.1f} s"
    )
    if server_cpu > 0:
        # CPU seconds actually spent: the loader's own, and the rest of the machine's
        # (PostgreSQL on a quiet machine), whatever the wall time was.
        print(
            f"  CPU: loader process {client_cpu:.1f} s + the rest of the machine (PostgreSQL)"
            f" {server_cpu:.1f} s"
            f" ({server_cpu * 1e6 / loaded:.1f} µs per row)"
            f" = {loaded / (client_cpu + server_cpu):,.0f} rows per CPU-second"
        )

    baselines = _baselines(session, lake, args.baseline_rows)
    print(f"baselines on {args.baseline_rows:,} rows (same table and indexes, rolled back):")
    print(f"  {'loader: binary COPY (whole load)':40} {rate:>12,.0f} rows/s")
    for name, r in baselines.items():
        print(f"  {name:40} {r:>12,.0f} rows/s   (loader is {rate / r:,.1f}x)")

    t0 = time.perf_counter()
    for table in ("scored_transactions", "alerts", "wallet_minute_rollups", "load_ledger"):
        session.execute_native(f"ANALYZE {table}")
    session.commit()
    print(f"ANALYZE {time.perf_counter() - t0:.1f} s")

    by_count = session.execute_native(
        "SELECT wallet_id, COUNT(*) FROM scored_transactions GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    session.commit()
    busy, typical = by_count[0], by_count[len(by_count) // 2]
    print(
        f"wallets: {len(by_count):,}; busiest {busy[0]} ({busy[1]:,} rows),"
        f" typical {typical[0]} ({typical[1]:,} rows)"
    )

    queries = _queries(now, typical[0], busy[0])
    worst = _time_queries(session, queries, args.runs, "right after the load, ANALYZEd")
    # What autovacuum does to an insert-only table in steady state: marks its pages
    # all-visible, so the covering wallet index answers a wallet's history by itself.
    t0 = time.perf_counter()
    session.conn.autocommit = True
    for table in ("scored_transactions", "wallet_minute_rollups"):
        session.execute_native(f"VACUUM {table}")
    session.conn.autocommit = False
    print(f"\nVACUUM {time.perf_counter() - t0:.1f} s (what autovacuum does in the background)")
    worst = max(worst, _time_queries(session, queries, args.runs, "after VACUUM"))

    size = session.execute_native(
        "SELECT pg_size_pretty(SUM(pg_total_relation_size(c.oid))) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
        (wcfg.schema,),
    ).fetchone()[0]
    session.commit()
    rss = self_peak_rss() / 2**20
    print(
        f"\nmemory: bench process peak RSS {rss:,.0f} MiB; warehouse on disk {size}"
        f" (tables + indexes, schema {wcfg.schema})"
    )
    ok = rate >= LOADER_FLOOR_ROWS_S and worst < QUERY_TARGET_S
    print(
        f"result: loader {'>=' if rate >= LOADER_FLOOR_ROWS_S else '<'} floor,"
        f" slowest query p95 {worst * 1000:.0f} ms"
    )
    if not args.keep:
        session.execute_native(f"DROP SCHEMA {wcfg.schema} CASCADE")
        session.commit()
    session.close()
    return 0 if ok else 1
