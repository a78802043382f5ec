"""The loader against the local PostgreSQL: every committed object once, bad ones quarantined."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.warehouse.lake import LocalLake
from pipeline.warehouse.loader import Loader
from pipeline.warehouse.synthetic import processed_rows
from tests.warehouse.lakefiles import (
    START_MS,
    alert,
    alerts_file,
    flink_leftovers,
    parquet_rows,
    processed_files,
)

pytestmark = pytest.mark.stack


def loader_for(cfg) -> Loader:
    return Loader(cfg, LocalLake(Path(cfg.lake_root)))


def test_every_committed_row_loads_once_and_counts_equal_the_lake(warehouse, sql):
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=3000, hours=3)
    flink_leftovers(root)  # in-progress / pending / staging / markers: never loaded
    alerts_file(root, "alerts-1-0.jsonl", [alert(i, wallet=f"w_{i % 7}") for i in range(25)])
    lake_rows = parquet_rows(files)

    report = loader_for(warehouse).run_once()

    assert report.count("loaded") == 4 and report.count("quarantined") == 0
    assert sql("SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM scored_transactions")[0] == (
        lake_rows.num_rows,
        lake_rows.num_rows,
    )
    assert sql("SELECT COUNT(*) FROM alerts")[0][0] == 25
    ledger = sql("SELECT status, SUM(row_count), COUNT(*) FROM load_ledger GROUP BY status")
    assert ledger == [("loaded", lake_rows.num_rows + 25, 4)]
    # a second pass finds nothing new
    again = loader_for(warehouse).run_once()
    assert again.results == []
    assert sql("SELECT COUNT(*) FROM scored_transactions")[0][0] == lake_rows.num_rows


def test_loaded_values_equal_the_parquet_values(warehouse, sql):
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=500, hours=1, seed=4)
    loader_for(warehouse).run_once()
    lake = {r["tx_id"]: r for r in parquet_rows(files).to_pylist()}
    rows = sql(
        "SELECT tx_id, event_time_ms, EXTRACT(EPOCH FROM event_time) * 1000, wallet_id,"
        " counterparty_wallet, amount_usd, score, alerted, severity, wallet_kyc_tier,"
        " f_log_amount_usd FROM scored_transactions"
    )
    assert len(rows) == len(lake)
    for tx_id, ms, et_ms, wallet, cp, usd, score, alerted, severity, tier, f0 in rows:
        src = lake[tx_id]
        assert ms == src["event_time_ms"] and round(float(et_ms)) == src["event_time_ms"]
        assert (wallet, cp, severity) == (
            src["wallet_id"],
            src["counterparty_wallet"],
            src["severity"],
        )
        assert (usd, score, f0) == (src["amount_usd"], src["score"], src["f_log_amount_usd"])
        assert (alerted, tier) == (src["alerted"], src["wallet_kyc_tier"])


def test_rollups_match_the_loaded_rows_and_are_idempotent(warehouse, sql):
    root = Path(warehouse.lake_root)
    processed_files(root, rows=2000, hours=2, seed=8)
    loader_for(warehouse).run_once()
    expected = sql(
        "SELECT wallet_id, DATE_TRUNC('minute', event_time) m, COUNT(*),"
        " SUM(CASE WHEN alerted THEN 1 ELSE 0 END) FROM scored_transactions GROUP BY 1, 2"
        " ORDER BY 1, 2"
    )
    got = sql(
        "SELECT wallet_id, minute, tx_count, alert_count FROM wallet_minute_rollups ORDER BY 1, 2"
    )
    assert got == expected
    # a late file for the same minutes: the rollups of those minutes are recomputed
    late = root / "processed" / "event_date=2026-03-02" / "hour=17" / "part-late-0-1"
    pq.write_table(processed_rows(300, START_MS, 3_600_000, 300, seed=77, first_id=10**7), late)
    loader_for(warehouse).run_once()
    total = sql("SELECT SUM(tx_count) FROM wallet_minute_rollups")[0][0]
    assert total == 2300 == sql("SELECT COUNT(*) FROM scored_transactions")[0][0]


def test_corrupt_object_is_quarantined_and_later_files_still_load(warehouse, sql):
    root = Path(warehouse.lake_root)
    good = processed_files(root, rows=1200, hours=2, seed=2)
    bad_dir = root / "processed" / "event_date=2026-03-02" / "hour=17"
    corrupt = bad_dir / "part-aaa-0-0"  # sorts before the good files: loaded first
    corrupt.write_bytes(b"PAR1 this is not parquet \x00\x01\x02")
    truncated = bad_dir / "part-aab-0-0"
    truncated.write_bytes(good[0].read_bytes()[:-100])
    wrong_schema = bad_dir / "part-aac-0-0"
    pq.write_table(pa.table({"tx_id": ["t1"], "foo": [1]}), wrong_schema)
    bad_alerts = alerts_file(root, "alerts-0-0.jsonl", [alert(1)])
    bad_alerts.write_text(bad_alerts.read_text() + "{not json\n")

    report = loader_for(warehouse).run_once()

    assert report.count("quarantined") == 4 and report.count("loaded") == 2
    assert sql("SELECT COUNT(*) FROM scored_transactions")[0][0] == 1200
    assert sql("SELECT COUNT(*) FROM alerts")[0][0] == 0  # the file is all or nothing
    errors = dict(sql("SELECT object_key, error FROM load_ledger WHERE status = 'quarantined'"))
    assert "unreadable Parquet" in errors[str(corrupt.resolve())]
    assert "unreadable Parquet" in errors[str(truncated.resolve())]
    assert "columns missing" in errors[str(wrong_schema.resolve())]
    assert "line 2: not JSON" in errors[str(bad_alerts.resolve())]
    copies = sql("SELECT quarantined_to FROM load_ledger WHERE status = 'quarantined'")
    for (copy,) in copies:
        # the warehouse's own prefix beside the lake's zones, not the job's DLQ zone
        assert copy.startswith(str((root / "warehouse-quarantine").resolve()) + "/")
        assert Path(copy).is_file()
    assert not (root / "quarantine").exists()
    # quarantined versions are not retried; a fixed object (new version) is
    assert loader_for(warehouse).run_once().results == []
    bad_alerts.write_text(bad_alerts.read_text().replace("{not json\n", ""))
    assert loader_for(warehouse).run_once().count("loaded") == 1
    assert sql("SELECT COUNT(*) FROM alerts")[0][0] == 1


INJECTIONS = [
    "'); DROP TABLE scored_transactions; --",
    'Robert"); DELETE FROM load_ledger; --',
    "a,b\nc\\N\td",
    "\\.",  # end-of-data marker of text COPY
    "ünïcødé ✓ 🚀",
    "",
]


def test_injection_strings_arrive_as_data(warehouse, sql):
    root = Path(warehouse.lake_root)
    table = processed_rows(len(INJECTIONS), START_MS, 1000, 5, seed=3)
    for col in ("venue", "device_id", "rule_ids", "counterparty_wallet"):
        i = table.schema.get_field_index(col)
        table = table.set_column(i, col, pa.array(INJECTIONS))
    d = root / "processed" / "event_date=2026-03-02" / "hour=17"
    d.mkdir(parents=True)
    pq.write_table(table, d / "part-inj-0-0")
    alerts_file(
        root,
        "alerts-inj-0.jsonl",
        [alert(i, wallet=s or "w_empty", model_version=s) for i, s in enumerate(INJECTIONS)],
    )

    report = loader_for(warehouse).run_once()

    assert report.count("loaded") == 2
    rows = sql(
        "SELECT venue, device_id, rule_ids, counterparty_wallet FROM scored_transactions"
        " ORDER BY tx_id"
    )
    assert sorted(r[0] for r in rows) == sorted(INJECTIONS)
    assert all(len(set(r)) == 1 for r in rows)  # each row holds the same string in all four
    assert sorted(r[0] for r in sql("SELECT model_version FROM alerts")) == sorted(INJECTIONS)
    assert sql("SELECT COUNT(*) FROM load_ledger")[0][0] == 2  # the ledger survived


def test_replayed_alerts_are_not_inserted_twice(warehouse, sql):
    root = Path(warehouse.lake_root)
    alerts_file(root, "alerts-a-0.jsonl", [alert(i) for i in range(10)])
    alerts_file(root, "alerts-b-0.jsonl", [alert(i) for i in range(5, 15)])  # 5 repeats
    report = loader_for(warehouse).run_once()
    assert report.count("loaded") == 2
    assert sql("SELECT COUNT(*), COUNT(DISTINCT alert_id) FROM alerts")[0] == (15, 15)
    assert sorted(r.rows for r in report.results) == [5, 10]


def test_object_deleted_after_listing_is_skipped_not_quarantined(warehouse, sql):
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=400, hours=2, seed=5)
    loader = loader_for(warehouse)
    listed = loader.pending()
    files[0].unlink()  # e.g. a compaction removed it between listing and loading
    results = [loader.load(obj) for obj in listed]
    assert [r.status for r in results] == ["skipped", "loaded"]
    assert "object gone" in results[0].error
    assert sql("SELECT status, COUNT(*) FROM load_ledger GROUP BY status") == [("loaded", 1)]


def _rows_per_partition(sql) -> dict[str, int]:
    rows = sql("SELECT tableoid::regclass::text, COUNT(*) FROM scored_transactions GROUP BY 1")
    return {name.rsplit(".", 1)[-1]: n for name, n in rows}


def test_rows_land_in_their_day_partition_and_any_other_day_in_the_default(warehouse, sql):
    root = Path(warehouse.lake_root)
    processed_files(root, rows=900, hours=3, seed=5)  # event_date=2026-03-02, hours 17-19
    next_day = START_MS + 86_400_000
    odd = root / "processed" / "backfill" / "part-odd-0-0"  # a key without event_date=
    odd.parent.mkdir(parents=True)
    pq.write_table(processed_rows(50, next_day, 60_000, 30, seed=6, first_id=10**8), odd)

    assert loader_for(warehouse).run_once().count("loaded") == 4

    assert _rows_per_partition(sql) == {
        "scored_transactions_20260302": 900,
        "scored_transactions_default": 50,
    }
    # that day's own file comes later: its partition cannot be cut out of a default that
    # already holds rows of the day, so its rows join them there: loaded, not refused
    late = root / "processed" / "event_date=2026-03-03" / "hour=17" / "part-late-0-0"
    late.parent.mkdir(parents=True)
    pq.write_table(processed_rows(40, next_day, 60_000, 30, seed=7, first_id=2 * 10**8), late)
    assert loader_for(warehouse).run_once().count("loaded") == 1
    assert _rows_per_partition(sql)["scored_transactions_default"] == 90
    assert sql("SELECT COUNT(*) FROM scored_transactions")[0][0] == 990


def test_read_ahead_reads_each_object_once_and_loads_it_in_its_own_transaction(warehouse, sql):
    root = Path(warehouse.lake_root)
    files = processed_files(root, rows=1500, hours=5, seed=8)
    reads: list[str] = []

    class CountingLake(LocalLake):
        def read(self, obj):
            reads.append(obj.key)
            return super().read(obj)

    loader = Loader(warehouse, CountingLake(root))
    report = loader.run_once()
    loader.close()

    assert report.count("loaded") == 5
    assert sorted(reads) == sorted(f.relative_to(root).as_posix() for f in files)
    ledger = sql("SELECT row_count FROM load_ledger WHERE status = 'loaded' ORDER BY object_key")
    assert [n for (n,) in ledger] == [pq.read_metadata(f).num_rows for f in sorted(files)]
    assert sql("SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM scored_transactions") == [(1500, 1500)]


_RECOMPUTE = """
SELECT wallet_id, DATE_TRUNC('minute', event_time), COUNT(*),
    SUM(CASE WHEN alerted THEN 1 ELSE 0 END), SUM(amount_usd),
    SUM(CASE WHEN tx_type IN ('withdrawal', 'transfer') THEN amount_usd ELSE 0 END),
    SUM(CASE WHEN tx_type = 'deposit' THEN amount_usd ELSE 0 END), MAX(score),
    COUNT(DISTINCT counterparty_wallet)
FROM scored_transactions GROUP BY 1, 2 ORDER BY 1, 2"""


def test_every_rollup_column_equals_a_recompute_after_files_sharing_minutes(warehouse, sql):
    root = Path(warehouse.lake_root)
    processed_files(root, rows=3000, hours=2, seed=12)  # ~25 rows a minute over 300 wallets
    loader_for(warehouse).run_once()
    # later files for the same minutes and wallets (upserts that hit existing rows), one
    # with NULL amounts, types and counterparties (SQL's NULL rules must hold)
    d = root / "processed" / "event_date=2026-03-02" / "hour=17"
    pq.write_table(
        processed_rows(900, START_MS, 3_600_000, 300, seed=13, first_id=10**7), d / "part-z-0-1"
    )
    odd = processed_rows(200, START_MS, 3_600_000, 300, seed=14, first_id=2 * 10**7)
    for name in ("amount_usd", "tx_type", "counterparty_wallet"):
        i = odd.schema.get_field_index(name)
        odd = odd.set_column(i, name, pa.nulls(odd.num_rows, odd.schema.field(name).type))
    pq.write_table(odd, d / "part-z-0-2")
    assert loader_for(warehouse).run_once().count("loaded") == 2

    got = sql(
        "SELECT wallet_id, minute, tx_count, alert_count, usd_total, usd_out, usd_in,"
        " max_score, distinct_counterparties FROM wallet_minute_rollups ORDER BY 1, 2"
    )
    expected = sql(_RECOMPUTE)
    assert len(got) == len(expected) and sum(r[2] for r in got) == 4100
    shared = 0
    for g, e in zip(got, expected, strict=True):
        assert g[:4] == e[:4] and g[7:] == e[7:], (g, e)
        for a, b in zip(g[4:7], e[4:7], strict=True):  # sums: NULL, or equal up to order
            assert (a is None and b is None) or a == pytest.approx(b, rel=1e-9), (g, e)
        shared += g[2] > 1
    assert shared > 100  # the later files really did land in existing wallet-minutes


def test_settings_version_loads_and_an_alert_without_one_gets_the_contracts_zero(warehouse, sql):
    """Alert contract 1.1.0 added settings_version (absent = 0): a 1.1.0 alert keeps its
    version, a 1.0 alert without the field loads with 0, and a file mixing both loads."""
    root = Path(warehouse.lake_root)
    old = alert(1)
    assert "settings_version" not in old
    alerts_file(root, "alerts-sv-0.jsonl", [old, alert(2, settings_version=7)])

    report = loader_for(warehouse).run_once()

    assert report.count("loaded") == 1
    assert sql("SELECT alert_id, settings_version FROM alerts ORDER BY alert_id") == [
        ("a00000001", 0),
        ("a00000002", 7),
    ]
