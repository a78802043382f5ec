"""Load each committed lake object into the warehouse exactly once.

For one object version (uri + ETag), in ONE transaction:
  claim the object → ledger says done? stop → rows in (COPY) → refresh the wallet-minute
  rollups of the minutes the rows touch → ledger row 'loaded' → COMMIT.
A crash anywhere before COMMIT leaves neither rows nor ledger row; a rerun loads the object
again from scratch. On PostgreSQL `warehouse.load_workers` objects load at once, each in
its own transaction on its own connection (one server process each, so two use both
cores): the exclusive right to an object is an advisory lock on its version instead of the
ledger table lock, and a rollup refresh holds an advisory lock on each hour it recomputes,
so two loads of one hour take turns there (see `_refresh_rollups`). Redshift keeps one
load at a time under `LOCK load_ledger` (its COPY is parallel inside the cluster).
A bad object (unreadable, wrong columns, values the warehouse refuses) is copied to the
quarantine prefix and recorded as 'quarantined' with the error, and the next objects load.
A warehouse that cannot be reached is retried with exponential backoff (`warehouse.retry_*`);
the object is never skipped.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.config import WarehouseConfig
from pipeline.warehouse import ledger
from pipeline.warehouse.connect import Backoff
from pipeline.warehouse.lake import Lake, LakeObject
from pipeline.warehouse.methods import (
    ALERTS,
    SCORED,
    InsertRows,
    ObjectGone,
    ObjectRejected,
    PostgresStdinCopy,
    RedshiftS3Copy,
    Target,
    epoch_ms_to_datetime,
    stage_columns,
)
from pipeline.warehouse.partitions import DayPartitions, day_of_key
from pipeline.warehouse.session import Session, open_session

log = logging.getLogger(__name__)

# Failure injection for tests: SIGKILL this process after the Nth object's rows and ledger
# row are written, before COMMIT (the "loader dies between COPY and commit" case).
FAULT_KILL_BEFORE_COMMIT = "FRAUD_FAULT_WAREHOUSE_KILL_BEFORE_COMMIT"

# Advisory lock class of a rollup hour (PostgreSQL; the two-key form, whose key space is
# apart from the one-key locks on object versions).
_ROLLUP_HOUR_LOCK = 7_311
_ALERTS_LOCK = 7_312  # alert loads, one at a time

_REFRESH_DELETE = "DELETE FROM wallet_minute_rollups WHERE minute >= %s AND minute < %s"
_REFRESH_INSERT = """
INSERT INTO wallet_minute_rollups (wallet_id, minute, tx_count, alert_count, usd_total,
    usd_out, usd_in, max_score, distinct_counterparties)
SELECT
    wallet_id,
    DATE_TRUNC('minute', event_time),
    COUNT(*),
    SUM(CASE WHEN alerted THEN 1 ELSE 0 END),
    SUM(amount_usd),
    SUM(CASE WHEN tx_type IN ('withdrawal', 'transfer') THEN amount_usd ELSE 0 END),
    SUM(CASE WHEN tx_type = 'deposit' THEN amount_usd ELSE 0 END),
    MAX(score),
    COUNT(DISTINCT counterparty_wallet)
FROM scored_transactions
WHERE event_time >= %s AND event_time < %s
GROUP BY 1, 2"""


class _FaultCount:
    """Objects at their COMMIT so far, over every worker; `reached()` at the Nth (0 = never)."""

    def __init__(self, at: int):
        self.at, self.count, self._lock = at, 0, threading.Lock()

    def reached(self) -> bool:
        with self._lock:
            self.count += 1
            return bool(self.at) and self.count == self.at


def _hour_of(t: datetime) -> int:
    """Hours since the epoch of a naive UTC timestamp."""
    return int((t - datetime(1970, 1, 1)).total_seconds()) // 3600


@dataclass
class LoadResult:
    obj: LakeObject
    table: str
    status: str  # loaded | quarantined | skipped (already in the ledger)
    rows: int = 0
    error: str | None = None
    seconds: float = 0.0
    copy_s: float = 0.0  # rows into the warehouse
    rollup_s: float = 0.0  # wallet-minute rollup refresh


@dataclass
class LoadReport:
    results: list[LoadResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.results if r.status == ledger.LOADED)


def method_for(cfg: WarehouseConfig):
    if cfg.kind == "redshift":
        return RedshiftS3Copy(cfg.iam_role, cfg.manifest_prefix)
    return PostgresStdinCopy(cfg.copy_batch_rows)


class Loader:
    """Moves lake objects into the warehouse; reconnects and retries when it is down."""

    def __init__(
        self,
        cfg: WarehouseConfig,
        lake: Lake,
        method=None,
        session_factory=None,
        backoff: Backoff | None = None,
    ):
        self.cfg = cfg
        self.lake = lake
        self.method = method or method_for(cfg)
        self._session_factory = session_factory or (lambda: open_session(cfg))
        self.backoff = backoff or Backoff.from_config(cfg)
        self._session: Session | None = None
        self._columns: dict[str, list[tuple[str, str]]] = {}
        self.partitions = DayPartitions(SCORED.table)
        self._fault = _FaultCount(int(os.environ.get(FAULT_KILL_BEFORE_COMMIT, "0") or 0))

    # ------------------------------------------------------------ connection

    def session(self) -> Session:
        if self._session is None:
            self._session = self._session_factory()
        return self._session

    def _drop_session(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = None

    def close(self) -> None:
        if hasattr(self.method, "close"):
            self.method.close()  # stops a read-ahead thread
        self._drop_session()

    def _retrying(self, fn, what: str):
        def attempt():
            try:
                return fn(self.session())
            except Exception:
                # whatever happened, this connection's transaction is gone: start afresh
                self._drop_session()
                raise

        return self.backoff.run(attempt, what)

    def columns(self, session: Session, target: Target) -> list[tuple[str, str]]:
        if target.stage not in self._columns:
            self._columns[target.stage] = stage_columns(session, target.stage)
        return self._columns[target.stage]

    # ------------------------------------------------------------ listing

    def target_of(self, obj: LakeObject) -> Target | None:
        if obj.key.startswith(self.cfg.processed_prefix):
            return SCORED
        if obj.key.startswith(self.cfg.alerts_prefix):
            return ALERTS
        return None

    def listed(self) -> list[LakeObject]:
        """Committed objects of the processed and alerts prefixes, in key order."""
        objs = [*self.lake.list(self.cfg.processed_prefix), *self.lake.list(self.cfg.alerts_prefix)]
        return sorted(objs, key=lambda o: o.key)

    def _day_of(self, obj: LakeObject):
        """The day partition a processed-zone object's rows go to (None: not partitioned)."""
        return day_of_key(obj.key) if self.target_of(obj) is SCORED else None

    def pending(self) -> list[LakeObject]:
        """Listed objects whose version the ledger does not hold yet."""
        listed = self.backoff.run(self.listed, "list the lake")
        known = self._retrying(ledger.known_versions, "read the ledger")
        return [o for o in listed if (o.uri, o.etag) not in known]

    # ------------------------------------------------------------ loading

    def load(self, obj: LakeObject, next_obj: LakeObject | None = None) -> LoadResult:
        """Load one object version exactly once (retrying while the warehouse is down).

        `next_obj`, the object loaded after this one, may be read ahead meanwhile.
        """
        target = self.target_of(obj)
        if target is None:
            raise ValueError(
                f"{obj.key} is under neither {self.cfg.processed_prefix!r} "
                f"nor {self.cfg.alerts_prefix!r}"
            )
        started = time.perf_counter()
        day = self._day_of(obj)
        if day is not None:
            self._retrying(lambda s: self.partitions.ensure(s, day), f"partition {day}")
        self._read_ahead(next_obj)
        result = self._retrying(lambda s: self._load_once(s, obj, target), f"load {obj.key}")
        if result.status == ledger.LOADED and target is SCORED:
            self._summarize_brin(day)
        result.seconds = time.perf_counter() - started
        log.info(
            "%s %s: %s rows=%d %.2fs%s",
            result.status,
            target.table,
            obj.key,
            result.rows,
            result.seconds,
            f" error={result.error}" if result.error else "",
        )
        return result

    @staticmethod
    def _claim(session: Session, obj: LakeObject, target: Target | None = None) -> None:
        """The exclusive right to load or quarantine `obj` until the transaction ends."""
        if session.dialect != "postgres":  # Redshift enforces no key: one loader at a time
            session.lock("load_ledger")
            return
        # per object version: loads of other objects go on (the ledger's primary key,
        # enforced here, backs it up)
        session.execute_native("SELECT pg_advisory_xact_lock(%s)", (ledger.load_id_for(obj),))
        if target is ALERTS:
            # An alert can be in several objects (a replayed job writes it again) and only
            # the first insert keeps it: alert loads take turns, each seeing the last's.
            session.execute_native("SELECT pg_advisory_xact_lock(%s, 0)", (_ALERTS_LOCK,))

    def _load_once(self, session: Session, obj: LakeObject, target: Target) -> LoadResult:
        columns = self.columns(session, target)
        self._claim(session, obj, target)
        done = ledger.status_of(session, obj)
        if done is not None:
            session.rollback()
            return LoadResult(obj, target.table, "skipped", error=f"ledger: {done}")
        load_id = ledger.load_id_for(obj)
        t0 = time.perf_counter()
        try:
            stats = self.method.load(session, self.lake, obj, target, columns, load_id)
        except ObjectRejected as exc:
            session.rollback()
            return self._quarantine(session, obj, target, str(exc))
        except ObjectGone as exc:
            # deleted or overwritten since the listing: nothing to load; a new version is
            # listed (and loaded) on the next pass
            session.rollback()
            return LoadResult(obj, target.table, "skipped", error=f"object gone: {exc}")
        t1 = time.perf_counter()
        lo, hi = epoch_ms_to_datetime(stats.min_ms), epoch_ms_to_datetime(stats.max_ms)
        if target is SCORED and stats.rows:
            self._refresh_rollups(session, lo, hi)
        t2 = time.perf_counter()
        ledger.record(session, obj, target.table, ledger.LOADED, stats.rows, lo, hi)
        if self._fault.reached():
            log.warning("fault injection: killing the loader before COMMIT of %s", obj.key)
            os.kill(os.getpid(), signal.SIGKILL)
        session.commit()
        return LoadResult(
            obj, target.table, ledger.LOADED, stats.rows, copy_s=t1 - t0, rollup_s=t2 - t1
        )

    def _read_ahead(self, obj: LakeObject | None) -> None:
        """Let the method start reading `obj` while the server takes the current object."""
        target = self.target_of(obj) if obj is not None else None
        if target is None or not hasattr(self.method, "prefetch"):
            return
        columns = self._columns.get(target.stage)
        if columns is not None:  # known after the first load of that kind
            self.method.prefetch(self.lake, obj, target, columns, ledger.load_id_for(obj))

    def _summarize_brin(self, day) -> None:
        """PostgreSQL: summarise the BRIN ranges new rows filled (see 0007_local_indexes), in
        the tables the rows went to (the day's partition, the default one).

        After the commit, in a short transaction of its own: summarising takes a lock that
        autovacuum's own summarising / ANALYZE also takes, so it gives up after 200 ms
        rather than stall the loader (autosummarize then catches up).
        """
        session = None
        try:
            session = self.session()
            if session.dialect != "postgres":
                return
            tables = self.partitions.tables(session, day)
            cur = session.execute_native(
                "SELECT i.indexrelid::regclass::text FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_class t ON t.oid = i.indrelid"
                " JOIN pg_am am ON am.oid = c.relam"
                " WHERE am.amname = 'brin' AND c.relkind = 'i'"
                " AND t.relnamespace = %s::regnamespace AND t.relname = ANY(%s)",
                (session.schema, tables),
            )
            brin = [r[0] for r in cur.fetchall()]
            session.execute_native("SET LOCAL lock_timeout = '200ms'")
            for index in brin:
                session.execute_native("SELECT brin_summarize_new_values(%s::regclass)", (index,))
            session.commit()
        except Exception as exc:
            if session is not None and getattr(exc, "sqlstate", None) == "55P03":
                session.rollback()  # lock_not_available: autovacuum is summarising
            else:  # e.g. the warehouse went away: the next load reconnects and retries
                log.warning("BRIN summarise skipped: %s", exc)
                self._drop_session()

    def _refresh_rollups(self, session: Session, lo, hi) -> None:
        """Recompute every wallet-minute the rows touched (idempotent, order-independent)."""
        start = lo.replace(second=0, microsecond=0)
        end = hi.replace(second=0, microsecond=0) + timedelta(minutes=1)
        if session.dialect == "postgres":
            # Loads of the same hour take turns from here to their commit: each recomputes
            # the minutes from every row committed before it plus its own, so the last to
            # commit leaves the rollups of all of them (READ COMMITTED: each statement
            # sees what committed before it started). Hours in ascending order: no deadlock.
            for hour in range(_hour_of(start), _hour_of(end - timedelta(microseconds=1)) + 1):
                session.execute_native(
                    "SELECT pg_advisory_xact_lock(%s, %s)", (_ROLLUP_HOUR_LOCK, hour)
                )
            # The range is one file's minutes, a sliver of the table, but mid-load statistics
            # are stale: the planner would scan the whole table (or the whole wallet btree)
            # on every refresh. Bitmap scans leave it the BRIN indexes on time.
            session.execute_native("SET LOCAL enable_seqscan = off")
            session.execute_native("SET LOCAL enable_indexscan = off")
        session.execute(_REFRESH_DELETE, (start, end))
        session.execute(_REFRESH_INSERT, (start, end))

    def _quarantine(self, session: Session, obj: LakeObject, target: Target, error: str):
        log.error("quarantine %s: %s", obj.key, error)
        copy_uri = self.lake.copy_to(obj, f"{self.cfg.quarantine_prefix}{obj.key}")
        self._claim(session, obj)
        if ledger.status_of(session, obj) is None:
            ledger.record(
                session,
                obj,
                target.table,
                ledger.QUARANTINED,
                0,
                error=error,
                quarantined_to=copy_uri,
            )
        session.commit()
        return LoadResult(obj, target.table, ledger.QUARANTINED, 0, error)

    def run_once(self) -> LoadReport:
        """Load every pending object once; returns what happened to each (in key order)."""
        pending = self.pending()
        workers = min(self._workers(), len(pending))
        if workers <= 1:
            return LoadReport(self._load_all(pending))
        # Partitions first, here: creating one locks the whole table, so it would wait for
        # the other workers' open loads.
        for day in sorted({self._day_of(o) for o in pending} - {None}):
            self._retrying(lambda s, d=day: self.partitions.ensure(s, d), f"partition {day}")
        # Interleaved shares: the workers move through the lake's time order side by side.
        shares = [pending[i::workers] for i in range(workers)]
        helpers = [self._helper() for _ in range(workers - 1)]
        results: list[list[LoadResult]] = [[] for _ in range(workers)]
        errors: list[BaseException] = []

        def work(loader: Loader, share: list[LakeObject], out: list[LoadResult]) -> None:
            try:
                out.extend(loader._load_all(share))
            except BaseException as exc:  # re-raised below, after the others finished
                errors.append(exc)

        threads = [
            threading.Thread(
                target=work, args=(h, shares[i + 1], results[i + 1]), name=f"loader-{i + 1}"
            )
            for i, h in enumerate(helpers)
        ]
        for t in threads:
            t.start()
        try:
            work(self, shares[0], results[0])
        finally:
            for t in threads:
                t.join()
            for h in helpers:
                h.close()
        if errors:
            raise errors[0]
        return LoadReport(sorted((r for rs in results for r in rs), key=lambda r: r.obj.key))

    def _load_all(self, objs: list[LakeObject]) -> list[LoadResult]:
        return [
            self.load(obj, objs[i + 1] if i + 1 < len(objs) else None) for i, obj in enumerate(objs)
        ]

    def _workers(self) -> int:
        """Loads at once: `warehouse.load_workers` with the COPY-from-stdin method on
        PostgreSQL, else 1."""
        if self.cfg.kind != "postgres" or not isinstance(self.method, PostgresStdinCopy):
            return 1
        return self.cfg.load_workers

    def _helper(self) -> Loader:
        """Another loader of the same lake and warehouse: own connection, own read-ahead,
        the same fault-injection count (tests)."""
        helper = Loader(
            self.cfg,
            self.lake,
            PostgresStdinCopy(self.cfg.copy_batch_rows),
            self._session_factory,
            self.backoff,
        )
        helper._fault = self._fault
        return helper

    def watch(self, stop: threading.Event | None = None, max_polls: int = 0) -> LoadReport:
        """Poll the lake every `warehouse.poll_interval_s` until `stop` is set (daemon)."""
        stop = stop or threading.Event()
        total, polls = LoadReport(), 0
        while not stop.is_set():
            report = self.run_once()
            total.results += report.results
            if report.results:
                log.info(
                    "poll: loaded %d objects (%d rows), quarantined %d",
                    report.count("loaded"),
                    report.rows,
                    report.count("quarantined"),
                )
            polls += 1
            if max_polls and polls >= max_polls:
                break
            stop.wait(self.cfg.poll_interval_s)
        return total


def insert_loader(cfg: WarehouseConfig, lake: Lake, session_factory) -> Loader:
    """A loader moving rows with executemany INSERTs (redshift-connector on PostgreSQL)."""
    return Loader(cfg, lake, InsertRows(), session_factory)
