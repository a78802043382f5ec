"""Day partitions of scored_transactions on the PostgreSQL stand-in.

translate.py makes the fact table `PARTITION BY RANGE (event_time)` locally (why: its
module doc). The loader asks for each object's day partition before the object's load
transaction: `CREATE TABLE … PARTITION OF` locks the parent table exclusively, so it runs
in a short transaction of its own (once per day), never inside a load. The day comes from
the processed zone's key (`event_date=YYYY-MM-DD/`, the job's partition by event date);
rows of any other day go to the DEFAULT partition (0008_local_partitions.local.sql), so a
missing partition never rejects a row. Partitions are named `<table>_YYYYMMDD`.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta

from pipeline.warehouse.session import Session

log = logging.getLogger(__name__)

_EVENT_DATE = re.compile(r"(?:^|/)event_date=(\d{4})-(\d{2})-(\d{2})(?:/|$)")


def day_of_key(key: str) -> date | None:
    """The event date a processed-zone key names (`…/event_date=2026-03-02/hour=17/…`)."""
    m = _EVENT_DATE.search(key)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def partition_name(table: str, day: date) -> str:
    return f"{table}_{day:%Y%m%d}"


class DayPartitions:
    """Creates missing day partitions of one table; remembers which exist."""

    def __init__(self, table: str):
        self.table = table
        self._partitioned: bool | None = None
        self._days: set[date] = set()

    def partitioned(self, session: Session) -> bool:
        if self._partitioned is None:
            if session.dialect != "postgres":
                self._partitioned = False
            else:
                rows = session.query(
                    "SELECT c.relname FROM pg_partitioned_table p"
                    " JOIN pg_class c ON c.oid = p.partrelid"
                    " WHERE c.relnamespace = %s::regnamespace AND c.relname = %s",
                    (session.schema, self.table),
                )
                self._partitioned = bool(rows)
                if rows:
                    self._days = self._existing_days(session)
                session.commit()
        return self._partitioned

    def _existing_days(self, session: Session) -> set[date]:
        rows = session.query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass",
            (f"{session.schema}.{self.table}",),
        )
        days = set()
        pattern = re.compile(rf"^{re.escape(self.table)}_(\d{{4}})(\d{{2}})(\d{{2}})$")
        for (name,) in rows:
            m = pattern.match(name)
            if m:
                days.add(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
        return days

    def ensure(self, session: Session, day: date | None) -> None:
        """Create `day`'s partition if the table is partitioned and it has none yet."""
        if day is None or not self.partitioned(session) or day in self._days:
            return
        from pipeline.warehouse.connect import transient_errors

        name = partition_name(self.table, day)
        start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
        try:
            session.execute_native(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {self.table}"
                f" FOR VALUES FROM ('{start}') TO ('{end}')"
            )
            session.commit()
            log.info("created partition %s", name)
        except Exception as exc:
            if isinstance(exc, transient_errors()):
                raise  # the warehouse is down: the caller retries with backoff
            # The DEFAULT partition already holds rows of that day (loaded before this
            # code existed, or from an object without an event_date key), or another
            # loader created it concurrently: the rows then keep landing where they do.
            session.rollback()
            log.warning(
                "partition %s not created (%s); rows of that day stay in the default partition",
                name,
                str(exc).splitlines()[0],
            )
        self._days.add(day)

    def tables(self, session: Session, day: date | None) -> list[str]:
        """The physical tables rows of `day` may be in (for per-table maintenance)."""
        if not self.partitioned(session):
            return [self.table]
        out = [f"{self.table}_default"]
        if day is not None and day in self._days:
            out.insert(0, partition_name(self.table, day))
        return out
