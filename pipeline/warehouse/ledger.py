"""The load ledger: which lake object versions are in the warehouse (or were quarantined).

The row for an object is written in the same transaction as the object's rows; callers
hold a claim on the object from the check to the commit (`Loader._claim`: `LOCK
load_ledger` on Redshift, which does not enforce the primary key, so the lock is what makes
two loaders of one object impossible; an advisory lock on the object version on
PostgreSQL, which also enforces the key).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pipeline.warehouse.lake import LakeObject
from pipeline.warehouse.session import Session

LOADED = "loaded"
QUARANTINED = "quarantined"
MAX_ERROR_CHARS = 4000


def load_id_for(obj: LakeObject) -> int:
    """A stable positive 63-bit id of an object version (tags its rows for lineage)."""
    digest = hashlib.blake2b(f"{obj.uri}\0{obj.etag}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & ((1 << 63) - 1)


def status_of(session: Session, obj: LakeObject) -> str | None:
    rows = session.query(
        "SELECT status FROM load_ledger WHERE object_key = %s AND etag = %s", (obj.uri, obj.etag)
    )
    return rows[0][0] if rows else None


def known_versions(session: Session) -> set[tuple[str, str]]:
    """(uri, etag) of every object version the ledger holds, whatever its status."""
    rows = session.query("SELECT object_key, etag FROM load_ledger")
    session.commit()
    return {(k, e) for k, e in rows}


def record(
    session: Session,
    obj: LakeObject,
    table: str,
    status: str,
    rows: int,
    min_time: datetime | None = None,
    max_time: datetime | None = None,
    error: str | None = None,
    quarantined_to: str | None = None,
) -> None:
    session.execute(
        "INSERT INTO load_ledger (object_key, etag, target_table, load_id, status, row_count,"
        " size_bytes, min_event_time, max_event_time, error, quarantined_to)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            obj.uri,
            obj.etag,
            table,
            load_id_for(obj),
            status,
            rows,
            obj.size,
            min_time,
            max_time,
            error[:MAX_ERROR_CHARS] if error else None,
            quarantined_to,
        ),
    )
