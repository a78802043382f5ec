"""Apply `sql/redshift/NNNN_name.sql` in order, each once, recorded in schema_migrations.

Every file is one version, applied in its own transaction together with its
schema_migrations row (a failed file leaves nothing half-applied on PostgreSQL; Redshift
runs CREATE TABLE / VIEW inside transactions too). An applied file whose text has since
changed is an error: write a new migration instead of editing an old one.
Files named `*.local.sql` are PostgreSQL-only (indexes standing in for sort keys) and
are skipped on Redshift; the others are Redshift dialect, translated for PostgreSQL.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import PROJECT_ROOT
from pipeline.warehouse.session import Session
from pipeline.warehouse.translate import split_statements

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "redshift"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)(\.local)?\.sql$")

_CREATE_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR(16) NOT NULL,
    name VARCHAR(256) NOT NULL,
    checksum VARCHAR(64) NOT NULL,
    applied_at TIMESTAMP NOT NULL DEFAULT GETDATE(),
    PRIMARY KEY (version)
)"""


class MigrationError(RuntimeError):
    """A migration file is malformed, changed after it was applied, or failed."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path
    local_only: bool

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a file with a bad name or a reused number fails."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name[.local].sql")
        version = m.group(1)
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, m.group(2), path, bool(m.group(3)))
    return [found[v] for v in sorted(found)]


def applied_versions(session: Session) -> dict[str, str]:
    """version -> checksum of what is recorded as applied."""
    rows = session.query("SELECT version, checksum FROM schema_migrations ORDER BY version")
    session.commit()
    return dict(rows)


def migrate(session: Session, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the pending migrations; returns the versions applied now (empty if up to date)."""
    session.execute_native(f"CREATE SCHEMA IF NOT EXISTS {session.schema}")
    session.execute_native(f"SET search_path TO {session.schema}")
    session.execute(_CREATE_VERSIONS)
    session.commit()
    done: list[str] = []
    for mig in discover(directory):
        if mig.local_only and session.dialect == "redshift":
            continue
        session.lock("schema_migrations")  # concurrent migrate runs apply each file once
        row = session.query(
            "SELECT checksum FROM schema_migrations WHERE version = %s", (mig.version,)
        )
        if row:
            session.rollback()
            if row[0][0] != mig.checksum:
                raise MigrationError(
                    f"{mig.path.name} changed after it was applied (version {mig.version}); "
                    "add a new migration instead"
                )
            continue
        try:
            for stmt in split_statements(mig.text):
                if mig.local_only:
                    session.execute_native(stmt)
                else:
                    session.execute(stmt)
            session.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (mig.version, mig.name, mig.checksum),
            )
            session.commit()
        except Exception as exc:
            session.rollback()
            raise MigrationError(f"{mig.path.name} failed: {exc}") from exc
        done.append(mig.version)
    return done
