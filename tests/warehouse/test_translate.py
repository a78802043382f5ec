"""Pure parts of the warehouse: DDL translation, schema agreement, lake filter, backoff."""

from __future__ import annotations

import json

import pytest
import sqlglot
from sqlglot import exp

from pipeline.schemas import PROCESSED_COLUMNS
from pipeline.warehouse.connect import Backoff, WarehouseUnavailable
from pipeline.warehouse.lake import LakeObject, is_committed
from pipeline.warehouse.methods import ALERTS, SCORED, RedshiftS3Copy
from pipeline.warehouse.migrate import MIGRATIONS_DIR, discover
from pipeline.warehouse.translate import redshift_to_postgres, split_statements

_FLINK_TO_REDSHIFT = {
    "STRING": exp.DataType.Type.VARCHAR,
    "BIGINT": exp.DataType.Type.BIGINT,
    "DOUBLE": exp.DataType.Type.DOUBLE,
    "BOOLEAN": exp.DataType.Type.BOOLEAN,
    "INT": exp.DataType.Type.INT,
}


def _table_columns(table: str) -> list[tuple[str, exp.DataType.Type]]:
    for mig in discover():
        for stmt in split_statements(mig.text):
            tree = sqlglot.parse_one(stmt, read="redshift")
            if isinstance(tree, exp.Create) and tree.this.this.name == table:
                return [(c.name, c.args["kind"].this) for c in tree.find_all(exp.ColumnDef)]
    raise AssertionError(f"no CREATE TABLE {table}")


def test_migrations_are_numbered_and_redshift_files_carry_the_physical_design():
    migs = discover()
    assert [m.version for m in migs] == sorted(m.version for m in migs)
    redshift_text = "\n".join(m.text for m in migs if not m.local_only)
    for keyword in ("DISTKEY (wallet_id)", "SORTKEY (event_time)", "ENCODE az64", "ENCODE raw"):
        assert keyword in redshift_text


def test_every_migration_translates_to_postgres_without_redshift_only_syntax():
    for mig in discover():
        if mig.local_only:
            continue
        for stmt in split_statements(mig.text):
            pg = redshift_to_postgres(stmt).upper()
            for word in ("DISTKEY", "SORTKEY", "DISTSTYLE", "ENCODE", "SUPER", "GETDATE"):
                assert word not in pg, (mig.path.name, word, pg[:200])


def _translated_create(table: str) -> str:
    for mig in discover():
        if mig.local_only:
            continue
        for stmt in split_statements(mig.text):
            tree = sqlglot.parse_one(stmt, read="redshift")
            if isinstance(tree, exp.Create) and tree.this.this.name == table:
                return redshift_to_postgres(stmt)
    raise AssertionError(f"no CREATE TABLE {table}")


def test_time_sort_key_of_the_fact_table_becomes_range_partitions_on_postgres():
    assert _translated_create("scored_transactions").endswith(" PARTITION BY RANGE (event_time)")
    # a primary key (alerts, rollups, ledger) or no time sort key (stages): a plain table
    for table in ("alerts", "wallet_minute_rollups", "load_ledger", "scored_transactions_stage"):
        assert "PARTITION BY" not in _translated_create(table), table


def test_landing_table_has_exactly_the_processed_zone_columns_in_file_order():
    # Redshift's COPY FORMAT AS PARQUET maps by position: names, order and types must agree.
    stage = _table_columns("scored_transactions_stage")
    assert [c for c, _ in stage] == [c for c, _ in PROCESSED_COLUMNS]
    assert [t for _, t in stage] == [_FLINK_TO_REDSHIFT[t] for _, t in PROCESSED_COLUMNS]
    fact = dict(_table_columns("scored_transactions"))
    assert set(fact) == {c for c, _ in PROCESSED_COLUMNS} | {"event_time", "load_id"}


def test_alert_landing_table_has_every_field_the_contract_requires():
    contract = json.loads(
        (MIGRATIONS_DIR.parent.parent / "contracts" / "alert.v1.schema.json").read_text()
    )
    assert [c for c, _ in _table_columns("alerts_stage")] == contract["required"]


def test_split_statements_ignores_comments_and_semicolons_in_quotes():
    sql = "-- a; comment\nSELECT 'a;b' AS x; /* c; */ SELECT \"q;\" FROM t;\n"
    assert split_statements(sql) == ["SELECT 'a;b' AS x", 'SELECT "q;" FROM t']


def test_translation_keeps_driver_placeholders():
    pg = redshift_to_postgres("DELETE FROM t WHERE a >= %s AND b < GETDATE() AND c = %s")
    assert pg.count("%s") == 2 and "CURRENT_TIMESTAMP" in pg


@pytest.mark.parametrize(
    ("key", "committed"),
    [
        ("processed/event_date=2026-03-02/hour=17/part-b2f2-0-17", True),
        ("alerts/alerts-06ba-0.jsonl", True),
        ("processed/event_date=2026-03-02/hour=17/.part-b2f2-0-18.inprogress.9a1c", False),
        ("processed/event_date=2026-03-02/hour=17/part-b2f2-0-18.inprogress.9a1c", False),
        ("processed/event_date=2026-03-02/hour=17/_SUCCESS", False),
        ("processed/.staging_1732/part-x", False),
        ("alerts/.alerts-06ba-2.jsonl.inprogress.0f", False),
    ],
)
def test_only_committed_objects_are_offered(key, committed):
    assert is_committed(key) is committed


def test_backoff_doubles_up_to_the_cap_then_gives_up_without_recording_anything():
    waits: list[float] = []
    calls = 0

    def down():
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("connection refused")

    policy = Backoff(initial_s=1.0, max_s=4.0, max_attempts=5)
    with pytest.raises(WarehouseUnavailable, match="after 5 attempts"):
        policy.run(down, "load x", sleep=waits.append)
    assert calls == 5
    assert len(waits) == 4
    # 1, 2, 4, 4 seconds, each within the ±20 % jitter
    for wait, base in zip(waits, [1, 2, 4, 4], strict=True):
        assert 0.8 * base <= wait <= 1.2 * base


def test_backoff_returns_as_soon_as_the_warehouse_answers():
    answers = iter([ConnectionRefusedError(), ConnectionRefusedError(), "ok"])

    def flaky():
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    assert Backoff(0.01, 0.02).run(flaky, "x", sleep=lambda s: None) == "ok"


def test_redshift_copy_names_exactly_one_object_through_a_manifest():
    method = RedshiftS3Copy("arn:aws:iam::123456789012:role/loader", "_warehouse/manifests/")
    obj = LakeObject(
        "s3://fraud-lake/processed/event_date=2026-03-02/hour=17/part-1-0-1",
        "processed/event_date=2026-03-02/hour=17/part-1-0-1",
        "abc",
        1234,
    )
    manifest = json.loads(method.manifest(obj))
    # COPY FROM 's3://…/part-1-0-1' would also load part-1-0-10, -11 …: a manifest pins it.
    assert manifest == {
        "entries": [{"url": obj.uri, "mandatory": True, "meta": {"content_length": 1234}}]
    }
    sql = method.copy_sql(SCORED, "s3://fraud-lake/_warehouse/manifests/7.manifest")
    assert "FORMAT AS PARQUET MANIFEST" in sql
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/loader'" in sql
    assert "FORMAT AS JSON 'auto'" in method.copy_sql(ALERTS, "s3://b/m")
    with pytest.raises(ValueError, match="iam_role"):
        RedshiftS3Copy("", "m/")
