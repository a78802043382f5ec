"""The Redshift code path through redshift-connector, as far as it goes against PostgreSQL.

pgbouncer (started by pipeline.warehouse.pgbouncer) strips the driver's startup parameters
and speaks md5; the driver then runs the migrations, the ledger transaction and the rows
(executemany INSERT: it has no COPY FROM STDIN). What only a real cluster can check —
COPY FROM S3 with an IAM role, DISTKEY/SORTKEY effects — is listed in the README.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.warehouse import connect, pgbouncer
from pipeline.warehouse.lake import LocalLake
from pipeline.warehouse.loader import Loader
from pipeline.warehouse.methods import SCORED, InsertRows, RedshiftS3Copy
from pipeline.warehouse.migrate import discover, migrate
from pipeline.warehouse.session import Session
from tests.warehouse.lakefiles import alert, alerts_file, parquet_rows, processed_files

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def bouncer_port(local_stack):
    from pipeline.config import load_config

    cfg = load_config(environ={}).warehouse
    was_running = pgbouncer._port_open(cfg.pgbouncer_port)
    port = pgbouncer.start(cfg)
    pgbouncer.tolerate_debian_server_version()
    yield port
    if not was_running:
        pgbouncer.stop()


def redshift_driver_session(cfg) -> Session:
    """redshift-connector to PostgreSQL through pgbouncer; SQL translated for PostgreSQL."""
    return Session(connect.connect_redshift(cfg), "postgres", "redshift_connector", cfg.schema)


def test_redshift_connector_migrates_and_loads_exactly_once(warehouse, bouncer_port, sql):
    cfg = dataclasses.replace(warehouse, schema=warehouse.schema + "_rs", port=bouncer_port)
    session = redshift_driver_session(cfg)
    assert session.conn.__class__.__module__.startswith("redshift_connector")
    try:
        assert migrate(session) == [m.version for m in discover()]
        assert migrate(session) == []

        root = Path(cfg.lake_root)
        files = processed_files(root, rows=900, hours=3, seed=31)
        alerts_file(root, "alerts-rs-0.jsonl", [alert(i, wallet=f"w_{i}") for i in range(6)])
        loader = Loader(cfg, LocalLake(root), InsertRows(), lambda: redshift_driver_session(cfg))
        report = loader.run_once()
        again = loader.run_once()
        loader.close()

        assert report.count("loaded") == 4 and again.results == []
        s = cfg.schema
        n = parquet_rows(files).num_rows
        assert sql(f"SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM {s}.scored_transactions") == [
            (n, n)
        ]
        assert sql(f"SELECT COUNT(*) FROM {s}.alerts") == [(6,)]
        assert sql(f"SELECT jsonb_array_length(rule_ids) FROM {s}.alerts LIMIT 1") == [(2,)]
        assert sql(f"SELECT SUM(tx_count) FROM {s}.wallet_minute_rollups") == [(n,)]
        ms = sql(
            f"SELECT event_time_ms, EXTRACT(EPOCH FROM event_time) * 1000"
            f" FROM {s}.scored_transactions LIMIT 50"
        )
        assert all(a == round(float(b)) for a, b in ms)
    finally:
        session.rollback()
        session.execute_native(f"DROP SCHEMA IF EXISTS {cfg.schema} CASCADE")
        session.commit()
        session.close()


def test_postgres_refuses_the_redshift_copy_from_s3(warehouse, bouncer_port):
    # The one statement of the Redshift path no stand-in runs: it needs a real cluster.
    import redshift_connector

    cfg = dataclasses.replace(warehouse, port=bouncer_port)
    session = redshift_driver_session(cfg)
    copy_sql = RedshiftS3Copy("arn:aws:iam::123456789012:role/x", "m/").copy_sql(
        SCORED, "s3://fraud-lake/_warehouse/manifests/1.manifest"
    )
    with pytest.raises(redshift_connector.ProgrammingError, match="syntax error"):
        session.execute_native(copy_sql)
    session.rollback()
    session.close()
