"""How an object's rows get into the warehouse: one class per load method.

* `PostgresStdinCopy` (local stand-in, psycopg): Parquet is streamed in Arrow batches,
  sorted by wallet, encoded as binary COPY tuples (`pgbinary.py`) by a reader thread while
  the server takes the previous batch, and sent through one
  `COPY ... FROM STDIN (FORMAT binary)` straight into the target.
* `RedshiftS3Copy` (Redshift, redshift-connector): `COPY <temp stage> FROM '<manifest>'
  IAM_ROLE ... FORMAT AS PARQUET MANIFEST` (a manifest names exactly one object: COPY FROM
  a key would load every object sharing that prefix), then INSERT ... SELECT into the target.
* `InsertRows` (any DB-API driver): executemany INSERTs into the temp stage. The only way
  redshift-connector can move rows into PostgreSQL (it lacks COPY FROM STDIN), and the
  baseline of the benchmark.

Every method runs inside the caller's transaction and raises `ObjectRejected` when the
object itself is bad (unreadable, wrong columns, values the warehouse refuses).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.warehouse import pgbinary
from pipeline.warehouse.lake import Lake, LakeObject
from pipeline.warehouse.session import Session


class ObjectRejected(Exception):
    """The object cannot be loaded as it is (corrupt, wrong schema, rejected values)."""


class ObjectGone(Exception):
    """The listed object version no longer exists (deleted or overwritten since listing)."""


@dataclass(frozen=True)
class Target:
    table: str  # scored_transactions | alerts
    stage: str  # the landing-shape table, copied per session as a TEMP table
    fmt: str  # parquet | jsonl


SCORED = Target("scored_transactions", "scored_transactions_stage", "parquet")
ALERTS = Target("alerts", "alerts_stage", "jsonl")


@dataclass
class LoadStats:
    rows: int = 0
    min_ms: int | None = None
    max_ms: int | None = None

    def see(self, lo: int | None, hi: int | None) -> None:
        if lo is not None:
            self.min_ms = lo if self.min_ms is None else min(self.min_ms, lo)
        if hi is not None:
            self.max_ms = hi if self.max_ms is None else max(self.max_ms, hi)


_ARROW_TYPES = {
    "character varying": pa.string(),
    "text": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "double precision": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp without time zone": pa.timestamp("ms"),
}


def stage_columns(session: Session, stage: str) -> list[tuple[str, str]]:
    """(column, SQL type) of a landing table, in order: the migrations are the one truth."""
    rows = session.query(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (session.schema, stage),
    )
    session.commit()
    if not rows:
        raise RuntimeError(f"{session.schema}.{stage} does not exist: run migrate first")
    return [(str(c), str(t)) for c, t in rows]


def parquet_batches(
    lake: Lake, obj: LakeObject, columns: list[tuple[str, str]], batch_rows: int
) -> Iterator[pa.Table]:
    """The object's rows in batches with exactly `columns` (cast to their types)."""
    src = lake.read(obj)  # raises ObjectGone
    try:
        pf = pq.ParquetFile(pa.BufferReader(src) if isinstance(src, bytes) else src)
        names = set(pf.schema_arrow.names)
        missing = [c for c, _ in columns if c not in names]
        if missing:
            raise ObjectRejected(f"not a processed-zone file: columns missing {missing}")
        schema = pa.schema([(c, _ARROW_TYPES[t]) for c, t in columns])
        for batch in pf.iter_batches(batch_size=batch_rows, columns=[c for c, _ in columns]):
            yield pa.Table.from_batches([batch]).cast(schema)
    except ObjectRejected:
        raise
    except FileNotFoundError as exc:
        raise ObjectGone(str(exc)) from exc
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise ObjectRejected(f"unreadable Parquet: {type(exc).__name__}: {exc}") from exc


def _epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


# Alert fields a contract version may lack, and the value the contract says that means
# (alert.v1.schema.json: settings_version "absent = 0"). They land NULL in the stage, from
# either COPY, and `move_stage` puts the default in.
ALERT_DEFAULTS = {"settings_version": 0}


def alert_rows(lake: Lake, obj: LakeObject, columns: list[tuple[str, str]]) -> Iterator[list]:
    """Rows of an alerts JSON-lines object, values as text (JSON columns as JSON text)."""
    src = lake.read(obj)
    try:
        data = src if isinstance(src, bytes) else open(src, "rb").read()  # noqa: SIM115
        lines = data.decode("utf-8").splitlines()
    except FileNotFoundError as exc:
        raise ObjectGone(str(exc)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ObjectRejected(f"unreadable alerts file: {exc}") from exc
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ObjectRejected(f"line {n}: not JSON: {exc}") from exc
        if not isinstance(rec, dict):
            raise ObjectRejected(f"line {n}: not a JSON object")
        missing = [c for c, _ in columns if c not in rec and c not in ALERT_DEFAULTS]
        if missing:
            raise ObjectRejected(f"line {n}: alert lacks {missing}")
        try:
            _epoch_ms(rec["event_time"])
        except (TypeError, ValueError) as exc:
            raise ObjectRejected(f"line {n}: bad event_time {rec['event_time']!r}") from exc
        row = []
        for col, typ in columns:
            v = rec.get(col)  # an absent ALERT_DEFAULTS field: NULL, move_stage fills it
            if typ in ("jsonb", "json", "super"):
                v = json.dumps(v)
            row.append(v)
        yield row


class PostgresStdinCopy:
    """COPY FROM STDIN (psycopg): binary COPY encoded from Arrow batches, one stream per object."""

    name = "copy-stdin"

    def __init__(self, batch_rows: int = 65536):
        self.batch_rows = batch_rows
        # objects read and encoded ahead (the current one and the next), oldest first
        self._ahead: dict[LakeObject, tuple[Prefetch, LoadStats]] = {}

    def prefetch(self, lake, obj, target, columns, load_id) -> None:
        """Start reading and encoding `obj` now: the caller loads it after the current one.

        Reading has no side effect, so the object's exactly-once load is untouched: its
        rows still go in inside its own load transaction, and an error found while
        reading (ObjectRejected, ObjectGone) is raised there, in order.
        """
        if target.fmt != "parquet" or obj in self._ahead:
            return
        stats = LoadStats()
        batches = parquet_batches(lake, obj, columns, self.batch_rows)
        self._ahead[obj] = (Prefetch(self._encoded(batches, load_id, stats), 2), stats)
        while len(self._ahead) > 2:  # the caller skipped one: stop reading it
            self._ahead.pop(next(iter(self._ahead)))[0].close()

    def close(self) -> None:
        for prefetch, _ in self._ahead.values():
            prefetch.close()
        self._ahead.clear()

    def _take_ahead(self, lake, obj, columns, load_id) -> tuple[Prefetch, LoadStats]:
        """The batches read ahead for `obj`, or a fresh reader (a retry never reuses one)."""
        ahead = self._ahead.pop(obj, None)
        if ahead is not None:
            return ahead
        stats = LoadStats()
        batches = parquet_batches(lake, obj, columns, self.batch_rows)
        return Prefetch(self._encoded(batches, load_id, stats), 2), stats

    def load(self, session, lake, obj, target, columns, load_id) -> LoadStats:
        import psycopg

        try:
            if target.fmt == "parquet":
                return self._parquet(session, lake, obj, target, columns, load_id)
            return self._alerts(session, lake, obj, target, columns, load_id)
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            raise ObjectRejected(f"rejected by the warehouse: {exc}") from exc

    def _parquet(self, session, lake, obj, target, columns, load_id) -> LoadStats:
        names = [c for c, _ in columns]
        sql = (
            f"COPY {target.table} ({', '.join(names)}, event_time, load_id)"
            " FROM STDIN (FORMAT binary)"
        )
        encoded, stats = self._take_ahead(lake, obj, columns, load_id)
        cur = session.cursor()
        try:
            with cur.copy(sql) as cp:
                cp.write(pgbinary.HEADER)
                for buf in encoded:
                    cp.write(buf)
                cp.write(pgbinary.TRAILER)
        finally:
            encoded.close()
        return stats

    @staticmethod
    def _encoded(batches: Iterable[pa.Table], load_id: int, stats: LoadStats) -> Iterator:
        for tbl in batches:
            ms = tbl.column("event_time_ms")
            mm = pc.min_max(ms).as_py()
            stats.see(mm["min"], mm["max"])
            stats.rows += tbl.num_rows
            # In wallet order, the rows' inserts into the (wallet_id, event_time) btree walk
            # its leaf pages in order instead of at random: a quarter less server CPU per
            # row. Heap order within a batch (at most one file's time span) stops following
            # time; the time BRIN indexes stay exact at that granularity.
            tbl = tbl.sort_by([("wallet_id", "ascending"), ("event_time_ms", "ascending")])
            tbl = tbl.append_column(
                "event_time", pc.cast(tbl.column("event_time_ms"), pa.timestamp("ms"))
            )
            tbl = tbl.append_column(
                "load_id", pa.array(np.full(tbl.num_rows, load_id, dtype=np.int64))
            )
            yield pgbinary.encode_table(tbl)

    def _alerts(self, session, lake, obj, target, columns, load_id) -> LoadStats:
        stats = LoadStats()
        create_temp_stage(session, target)
        cur = session.cursor()
        names = [c for c, _ in columns]
        with cur.copy(f"COPY tmp_{target.stage} ({', '.join(names)}) FROM STDIN") as cp:
            for row in alert_rows(lake, obj, columns):
                cp.write_row(row)
                t = _epoch_ms(row[names.index("event_time")])
                stats.see(t, t)
        stats.rows = move_stage(session, target, columns, load_id)
        return stats


_DONE = object()


class Prefetch:
    """Iterates `items`, produced by a thread of its own up to `depth` items ahead.

    Reading Parquet and encoding (pyarrow, numpy: the GIL is released) then overlaps with
    the server taking the previous batch, or the previous object. An exception in the
    producer is raised to the consumer, in order; `close()` stops the producer (a consumer
    whose COPY failed, or an object that is not loaded after all).
    """

    def __init__(self, items: Iterable, depth: int):
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._produce, args=(items,), name="copy-encoder", daemon=True
        )
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, items: Iterable) -> None:
        try:
            for item in items:
                if not self._put((item, None)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put((None, exc))
            return
        self._put((_DONE, None))

    def __iter__(self) -> Iterator:
        while True:
            item, exc = self._q.get()
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def create_temp_stage(session: Session, target: Target) -> None:
    session.execute_native(f"DROP TABLE IF EXISTS tmp_{target.stage}")
    session.execute(f"CREATE TEMP TABLE tmp_{target.stage} (LIKE {target.stage})")


def move_stage(session: Session, target: Target, columns, load_id: int) -> int:
    """INSERT the temp stage's rows into the target; returns how many were inserted."""
    names = [c for c, _ in columns]
    cols = ", ".join(names)
    if target.table == "alerts":
        # alert_id is deterministic: an alert already present (e.g. a replayed job wrote it
        # again in a new object) is not inserted twice. A field the alert lacks is NULL in
        # the stage: the contract's default goes in instead.
        values = ", ".join(
            f"COALESCE(s.{c}, {ALERT_DEFAULTS[c]})" if c in ALERT_DEFAULTS else f"s.{c}"
            for c in names
        )
        sql = (
            f"INSERT INTO alerts ({cols}, load_id) SELECT {values}, %s FROM tmp_{target.stage} s"
            " WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = s.alert_id)"
        )
    else:
        sql = (
            f"INSERT INTO {target.table} ({cols}, event_time, load_id) SELECT {cols},"
            " TIMESTAMP 'epoch' + (event_time_ms / 1000.0) * INTERVAL '1 second', %s"
            f" FROM tmp_{target.stage}"
        )
    cur = session.execute(sql, (load_id,))
    inserted = cur.rowcount
    session.execute_native(f"DROP TABLE tmp_{target.stage}")
    return inserted


def stage_stats(session: Session, target: Target, stats: LoadStats) -> None:
    if target.fmt == "parquet":
        sql = f"SELECT COUNT(*), MIN(event_time_ms), MAX(event_time_ms) FROM tmp_{target.stage}"
        _, lo, hi = session.query(sql)[0]
        stats.see(lo, hi)
    else:
        sql = f"SELECT COUNT(*), MIN(event_time), MAX(event_time) FROM tmp_{target.stage}"
        _n, lo, hi = session.query(sql)[0]
        if lo is not None:
            stats.see(
                int(lo.replace(tzinfo=UTC).timestamp() * 1000),
                int(hi.replace(tzinfo=UTC).timestamp() * 1000),
            )


class RedshiftS3Copy:
    """COPY from S3 with an IAM role through a one-object manifest (Redshift only)."""

    name = "copy-s3"

    def __init__(self, iam_role: str, manifest_prefix: str):
        if not iam_role:
            raise ValueError("warehouse.iam_role is required for kind = redshift")
        self.iam_role = iam_role
        self.manifest_prefix = manifest_prefix

    def copy_sql(self, target: Target, manifest_uri: str) -> str:
        fmt = (
            "FORMAT AS PARQUET"
            if target.fmt == "parquet"
            else "FORMAT AS JSON 'auto' TIMEFORMAT 'auto'"
        )
        return (
            f"COPY tmp_{target.stage} FROM '{manifest_uri}' IAM_ROLE '{self.iam_role}'"
            f" {fmt} MANIFEST"
        )

    def manifest(self, obj: LakeObject) -> bytes:
        # Parquet COPY with a manifest needs each entry's content_length.
        entry = {"url": obj.uri, "mandatory": True, "meta": {"content_length": obj.size}}
        return json.dumps({"entries": [entry]}).encode()

    def load(self, session, lake, obj, target, columns, load_id) -> LoadStats:
        if not obj.uri.startswith("s3://"):
            raise ValueError(f"Redshift COPY needs an s3:// lake, not {obj.uri}")
        manifest_uri = lake.put(f"{self.manifest_prefix}{load_id}.manifest", self.manifest(obj))
        create_temp_stage(session, target)
        try:
            session.execute_native(self.copy_sql(target, manifest_uri))
        except Exception as exc:
            if isinstance(exc, _transient()):
                raise
            raise ObjectRejected(f"Redshift COPY rejected the object: {exc}") from exc
        stats = LoadStats()
        stage_stats(session, target, stats)
        stats.rows = move_stage(session, target, columns, load_id)
        return stats


class InsertRows:
    """executemany INSERT into the temp stage (any driver; the benchmark's baseline)."""

    name = "insert"

    def __init__(self, batch_rows: int = 10000):
        self.batch_rows = batch_rows

    def load(self, session, lake, obj, target, columns, load_id) -> LoadStats:
        create_temp_stage(session, target)
        placeholders = ", ".join(_placeholder(t) for _, t in columns)
        sql = (
            f"INSERT INTO tmp_{target.stage} ({', '.join(c for c, _ in columns)})"
            f" VALUES ({placeholders})"
        )
        sql = session_sql(session, sql)
        stats = LoadStats()
        cur = session.cursor()
        try:
            if target.fmt == "parquet":
                for tbl in parquet_batches(lake, obj, columns, self.batch_rows):
                    rows = list(zip(*(tbl.column(c).to_pylist() for c, _ in columns), strict=True))
                    cur.executemany(sql, rows)
            else:
                rows = list(alert_rows(lake, obj, columns))
                if rows:
                    cur.executemany(sql, rows)
        except ObjectRejected:
            raise
        except Exception as exc:
            if isinstance(exc, _transient()) or not _is_data_error(exc):
                raise
            raise ObjectRejected(f"rejected by the warehouse: {exc}") from exc
        stage_stats(session, target, stats)
        stats.rows = move_stage(session, target, columns, load_id)
        return stats


def session_sql(session: Session, sql: str) -> str:
    from pipeline.warehouse.translate import for_dialect

    return for_dialect(sql, session.dialect)


def _placeholder(sql_type: str) -> str:
    if sql_type in ("jsonb", "json", "super"):
        return "JSON_PARSE(%s)"
    if sql_type.startswith("timestamp"):
        return "CAST(%s AS TIMESTAMP)"
    return "%s"


def _transient():
    from pipeline.warehouse.connect import transient_errors

    return transient_errors()


def _is_data_error(exc: BaseException) -> bool:
    """A value the server refused (SQLSTATE class 22 data / 23 integrity)."""
    try:
        import psycopg

        if isinstance(exc, psycopg.DataError | psycopg.IntegrityError):
            return True
    except ImportError:  # pragma: no cover
        pass
    text = str(exc)
    return "'C': '22" in text or "'C': '23" in text


def epoch_ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)
