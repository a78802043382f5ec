"""Warehouse fixtures: a fresh, migrated PostgreSQL schema per test and a lake folder."""

from __future__ import annotations

import dataclasses
import re
import uuid
from pathlib import Path

import pytest

from pipeline.config import WarehouseConfig, load_config


def _schema_name(request) -> str:
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    return re.sub(r"[^a-z0-9_]", "_", f"wh_{module[:20]}_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def warehouse(local_stack, request, tmp_path) -> WarehouseConfig:
    """A migrated schema of its own (dropped afterwards) and an empty local lake."""
    from pipeline.warehouse.migrate import migrate
    from pipeline.warehouse.session import open_session

    cfg = dataclasses.replace(
        load_config(environ={}).warehouse,
        schema=_schema_name(request),
        lake_root=str(tmp_path / "lake"),
        retry_initial_backoff_s=0.05,
        retry_max_backoff_s=0.4,
    )
    (tmp_path / "lake").mkdir()
    session = open_session(cfg)
    migrate(session)
    session.close()
    yield cfg
    session = open_session(cfg)
    session.execute_native(f"DROP SCHEMA IF EXISTS {cfg.schema} CASCADE")
    session.commit()
    session.close()


@pytest.fixture
def sql(warehouse):
    """Run a query in the test's schema: sql("SELECT ...", params) -> rows."""
    from pipeline.warehouse.session import open_session

    session = open_session(warehouse)

    def run(query: str, params=None):
        rows = session.execute_native(query, params).fetchall()
        session.commit()
        return rows

    yield run
    session.close()


def lake_path(cfg: WarehouseConfig) -> Path:
    return Path(cfg.lake_root)
