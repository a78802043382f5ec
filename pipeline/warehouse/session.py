"""One warehouse connection plus the SQL dialect its server speaks.

Every statement the package issues is written in Redshift's dialect; `Session.execute`
translates it for PostgreSQL when the server is the stand-in. The driver (psycopg or
redshift-connector) and the dialect are independent, so tests can drive the stand-in
through redshift-connector.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from pipeline.config import WarehouseConfig
from pipeline.warehouse import connect
from pipeline.warehouse.translate import for_dialect


@dataclass
class Session:
    conn: Any
    dialect: str  # the server's SQL: redshift | postgres
    driver: str  # psycopg | redshift_connector
    schema: str

    def cursor(self):
        return self.conn.cursor()

    def execute(self, sql: str, params: tuple | list | None = None, cur=None):
        """Run one Redshift-dialect statement (translated for the server); returns the cursor."""
        return self.execute_native(for_dialect(sql, self.dialect), params, cur)

    def execute_native(self, sql: str, params: tuple | list | None = None, cur=None):
        """Run one statement exactly as given."""
        cur = cur or self.conn.cursor()
        if params is None:
            cur.execute(sql)
        else:
            cur.execute(sql, params)
        return cur

    def query(self, sql: str, params: tuple | list | None = None) -> list[tuple]:
        cur = self.execute(sql, params)
        rows = cur.fetchall()
        return [tuple(r) for r in rows] if rows else []

    def lock(self, table: str) -> None:
        """Serialise writers of `table` until the transaction ends (readers still read)."""
        if self.dialect == "redshift":
            self.execute_native(f"LOCK {table}")
        else:
            self.execute_native(f"LOCK TABLE {table} IN EXCLUSIVE MODE")

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        # a broken connection has nothing to roll back
        with contextlib.suppress(Exception):
            self.conn.rollback()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def open_session(cfg: WarehouseConfig) -> Session:
    """A session as `warehouse.kind` says: psycopg + PostgreSQL, or redshift-connector."""
    if cfg.kind == "redshift":
        return Session(connect.connect_redshift(cfg), "redshift", "redshift_connector", cfg.schema)
    return Session(connect.connect_postgres(cfg), "postgres", "psycopg", cfg.schema)
