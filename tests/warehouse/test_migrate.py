"""Migrations: applied once, versions and checksums recorded, edits of applied files refused."""

from __future__ import annotations

import shutil

import pytest

from pipeline.warehouse.migrate import MIGRATIONS_DIR, MigrationError, discover, migrate
from pipeline.warehouse.session import open_session

pytestmark = pytest.mark.stack


def test_migrate_is_idempotent_and_records_every_version(warehouse, sql):
    # the fixture has migrated once already
    session = open_session(warehouse)
    assert migrate(session) == []
    session.close()
    recorded = sql("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
    assert [(v, n, c) for v, n, c in recorded] == [
        (m.version, m.name, m.checksum) for m in discover()
    ]
    tables = {
        r[0]
        for r in sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (warehouse.schema,),
        )
    }
    assert {
        "scored_transactions",
        "alerts",
        "wallet_minute_rollups",
        "load_ledger",
        "v_fraud_rate_hourly",
        "v_wallet_risk_daily",
        "v_model_training",
    } <= tables
    indexes = {
        r[0]
        for r in sql("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (warehouse.schema,))
    }
    assert "scored_transactions_event_time_brin" in indexes
    for view in (
        "v_fraud_rate_hourly",
        "v_wallet_risk_daily",
        "v_alerts_hourly",
        "v_model_training",
    ):
        assert sql(f"SELECT COUNT(*) FROM {view}") == [(0,)]


def test_new_migration_applies_alone_and_an_edited_one_is_refused(warehouse, tmp_path, sql):
    d = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, d)
    (d / "0100_extra.sql").write_text(
        "CREATE TABLE IF NOT EXISTS extra (a BIGINT ENCODE az64) DISTSTYLE ALL;\n"
    )
    session = open_session(warehouse)
    assert migrate(session, d) == ["0100"]
    assert migrate(session, d) == []
    assert sql("SELECT COUNT(*) FROM extra") == [(0,)]
    first = d / "0001_scored_transactions.sql"
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(session, d)
    session.close()


def test_a_failing_migration_leaves_nothing_behind(warehouse, tmp_path, sql):
    d = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, d)
    (d / "0101_broken.sql").write_text(
        "CREATE TABLE half_done (a BIGINT);\nCREATE TABLE broken (a NOT_A_TYPE);\n"
    )
    session = open_session(warehouse)
    with pytest.raises(MigrationError, match=r"0101_broken\.sql failed"):
        migrate(session, d)
    session.close()
    assert sql("SELECT COUNT(*) FROM schema_migrations WHERE version = '0101'") == [(0,)]
    assert sql("SELECT to_regclass('half_done')") == [(None,)]


def test_local_expression_indexes_match_the_translated_view_expressions(warehouse, sql):
    # An expression index serves a view's pushed-down filter only if the texts are equal.
    indexdefs = " ".join(
        r[0]
        for r in sql("SELECT indexdef FROM pg_indexes WHERE schemaname = %s", (warehouse.schema,))
    )
    for view, expr in (
        ("v_fraud_rate_hourly", "date_trunc('HOUR'::text, event_time)"),
        ("v_wallet_risk_daily", "date_trunc('DAY'::text, minute)"),
    ):
        [(definition,)] = sql(
            "SELECT pg_get_viewdef(%s::regclass)", (f"{warehouse.schema}.{view}",)
        )
        assert expr in definition.replace("scored_transactions.", "").replace(
            "wallet_minute_rollups.", ""
        ), definition
        assert expr in indexdefs
