"""Producers that feed the job's input: transactions to a Kafka topic or a Kinesis stream.

Sources (iterables of `Event`):

* `synthetic(rate_per_s, events, seed)`: the generator's JSON lines, paced to a target rate
  (0 = as fast as possible); generated on a background thread and streamed, not buffered.
* `replay(path, speed)`: a CSV or JSON-lines dataset in file order, paced by event time at
  `speed`x (60 = one hour of history per minute; 0 = no pacing). CSV rows become JSON objects
  with the contract's field names; rows that cannot be parsed are sent as they are, so the
  job's dead-letter queue sees them.

Sinks:

* `KafkaProducerSink`: idempotent confluent-kafka producer (acks=all, lz4, 20 ms linger),
  key = wallet_id; fails fast with `ProducerError` when the broker is not reachable.
* `KinesisProducerSink`: boto3 `put_records` in batches of <= 500 records and <= 5 MiB,
  partition key = wallet_id; only the records a batch reports as failed are retried, with
  exponential backoff and a bounded number of attempts.

`run(source, sink)` sends everything, draws a progress line on stderr and returns
`ProducerStats`. The command line is `python -m pipeline.produce`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring as _json_string
from pathlib import Path
from typing import TextIO

import orjson

from operators.event import EVENT_FIELDS

from .config import PROJECT_ROOT, SecurityConfig, load_config
from .kafka_security import confluent_config

KINESIS_MAX_RECORDS = 500
KINESIS_MAX_BATCH_BYTES = 5 * 1024 * 1024
KINESIS_MAX_RECORD_BYTES = 1024 * 1024
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NUMERIC_FIELDS = frozenset({"amount", "amount_usd"})
_NUMBER, _EPOCH_MS = 1, 2  # csv_row_encoder's kinds of column


class ProducerError(RuntimeError):
    """The sink cannot be reached or is not set up; the message says what to do."""


@dataclass(slots=True)
class Event:
    """One record to send: `key` is the wallet_id (None when the record has none)."""

    value: bytes
    key: str | None
    tx_id: str | None = None


@dataclass
class ProducerStats:
    sent: int = 0  # acknowledged by the broker / stream
    failed: int = 0  # given up on
    retried: int = 0  # record re-sends (Kinesis partial failures)
    elapsed: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        return (
            f"sent {self.sent:,}  failed {self.failed:,}  retried {self.retried:,}  "
            f"in {self.elapsed:.2f} s ({self.rate:,.0f} events/s)"
        )


# ---------------------------------------------------------------- parsing helpers


def _key_of(obj: object) -> tuple[str | None, str | None]:
    """(wallet_id, tx_id) of a parsed JSON record, as strings, or None."""
    if not isinstance(obj, dict):
        return None, None
    wallet, tx = obj.get("wallet_id"), obj.get("tx_id")
    wallet = str(wallet) if wallet is not None and not isinstance(wallet, dict | list) else None
    tx = str(tx) if tx is not None and not isinstance(tx, dict | list) else None
    return wallet or None, tx or None


def json_event(line: str | bytes) -> Event:
    """An Event from one JSON line (sent as-is, whether or not it parses)."""
    return _json_event_and_object(line)[0]


def _json_event_and_object(line: str | bytes) -> tuple[Event, object]:
    """The Event of a JSON line and the parsed JSON (None when it does not parse)."""
    raw = line.rstrip("\r\n") if isinstance(line, str) else line.rstrip(b"\r\n")
    value = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        obj = None
    wallet, tx = _key_of(obj)
    return Event(value, wallet, tx), obj


def csv_row_encoder(fields: tuple[str, ...]) -> Callable[[list[str]], bytes]:
    """A function turning a CSV row with these columns into the JSON line the generator
    would have written: empty -> null, amounts and epoch-millisecond event times -> JSON
    numbers (when they are valid ones), other values -> JSON strings.

    Field names are encoded once, strings with the json module's C encoder
    (`encode_basestring`, what `json.dumps(value, ensure_ascii=False)` calls): a replay's
    rate is bound by this function.
    """
    keys = [json.dumps(name) + ":" for name in fields]
    kinds = [
        _NUMBER if n in _NUMERIC_FIELDS else _EPOCH_MS if n == "event_time" else 0 for n in fields
    ]
    number = _JSON_NUMBER.fullmatch

    def encode(values: list[str]) -> bytes:
        parts = []
        for key, kind, value in zip(keys, kinds, values, strict=True):
            if value == "":
                text = "null"
            elif (kind == _NUMBER and number(value)) or (kind == _EPOCH_MS and value.isdigit()):
                text = value
            else:
                text = _json_string(value)
            parts.append(key + text)
        return ("{" + ",".join(parts) + "}").encode("utf-8", "surrogateescape")

    return encode


def parse_event_time_ms(value: object) -> int | None:
    """Epoch ms of an event_time (epoch-ms number/string or ISO-8601), None if unparseable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value) if math.isfinite(value) else None
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


# ---------------------------------------------------------------- sources


def generated_lines(events: int, seed: int, fmt: str = "jsonl") -> Iterator[str]:
    """The generator's output lines (no newline), streamed from a child process: bounded
    memory, and the generator, which bounds a synthetic run's rate, gets a core of its own
    instead of sharing the GIL with the producer. The child stops when the caller does."""
    cmd = [sys.executable, "-m", "datasets.generator", "--events", str(events)]
    cmd += ["--seed", str(seed), "--format", fmt, "--out", "-", "--quiet"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=errors,
            cwd=PROJECT_ROOT,
            env=env,
            encoding="utf-8",
            errors="surrogateescape",
            bufsize=1 << 20,
        )
        _widen_pipe(proc.stdout.fileno())
        try:
            for line in proc.stdout:
                yield line.rstrip("\n")
            if proc.wait() != 0:
                errors.seek(0)
                tail = errors.read()[-2000:].decode("utf-8", "replace")
                raise ProducerError(f"the generator failed (exit {proc.returncode}): {tail}")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()


def _widen_pipe(fd: int) -> None:
    """Let the pipe hold up to 1 MB (Linux's default maximum for a user) instead of 64 KB.

    With 64 KB, about 200 events, the generator could run only ~3 ms ahead of the
    producer: every pause of the producer (a delivery-report poll, the GIL of its
    callbacks) stopped the generator too, and the two processes kept ~1.2 of the 2 cores
    busy (top) at 44-46k events/s. Elsewhere (not Linux, a lower limit) it stays as it is.
    """
    import fcntl

    try:
        size = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, min(size, 1 << 20))
    except (AttributeError, OSError, ValueError):
        pass


class Source:
    """An iterable of Events with an optional known total (for the progress bar)."""

    def __init__(self, events: Iterable[Event], total: int | None, name: str) -> None:
        self._events, self.total, self.name = events, total, name

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)


class _Pacer:
    """Sleeps until `offset_s` after the first call (no-op when behind)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock, self.start = clock, None

    def wait(self, offset_s: float) -> None:
        now = self.clock()
        if self.start is None:
            self.start = now
            return
        delay = self.start + offset_s - now
        if delay > 0.0005:
            time.sleep(delay)


def synthetic(rate_per_s: float = 0.0, events: int = 10_000, seed: int = 7) -> Source:
    """`events` generated JSON lines at `rate_per_s` events per second (0 = unpaced)."""

    def gen() -> Iterator[Event]:
        pacer = _Pacer()
        for i, line in enumerate(generated_lines(events, seed, "jsonl")):
            if rate_per_s > 0:
                pacer.wait(i / rate_per_s)
            yield json_event(line)

    return Source(gen(), events, f"synthetic({events:,} events, seed {seed})")


def wallet_part(source: Source, part: int, parts: int) -> Source:
    """Only the events whose wallet falls in `part` of `parts` (CRC-32 of the key, or of
    the record when it has none): several producers running the same seeded source each
    send their share of one world, every wallet's events through one of them."""
    if not 0 <= part < parts:
        raise ProducerError(f"part {part} is not within 0..{parts - 1}")

    def gen() -> Iterator[Event]:
        for event in source:
            key = event.key.encode() if event.key else event.value
            if zlib.crc32(key) % parts == part:
                yield event

    return Source(gen(), None, f"{source.name}, wallet part {part}/{parts}")


def _sniff_format(path: Path) -> str:
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if path.suffix.lower() == ".csv":
        return "csv"
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        first = f.readline().lstrip()
    return "jsonl" if first.startswith("{") else "csv"


def _replay_events(handle: TextIO, fmt: str) -> Iterator[tuple[Event, int | None]]:
    """(event, event_time_ms or None) for every data row of a file, in file order."""
    if fmt == "jsonl":
        for line in handle:
            if not line.strip():
                continue
            event, obj = _json_event_and_object(line)
            t = parse_event_time_ms(obj.get("event_time")) if isinstance(obj, dict) else None
            yield event, t
        return
    header_line = handle.readline()
    fields = tuple(next(csv.reader([header_line]), [])) or EVENT_FIELDS
    if "wallet_id" not in fields:  # no header: the contract's order, first line is data
        fields = EVENT_FIELDS
        handle = _chain_first(header_line, handle)
    i_wallet, i_tx, i_time = (fields.index(n) for n in ("wallet_id", "tx_id", "event_time"))
    to_json = csv_row_encoder(fields)
    for line in handle:
        raw = line.rstrip("\r\n")
        if not raw:
            continue
        try:
            values = next(csv.reader([raw]))
        except (csv.Error, StopIteration):
            values = []
        if len(values) != len(fields):  # unparseable: as-is, for the job's DLQ
            yield Event(raw.encode("utf-8", "surrogateescape"), None), None
            continue
        event = Event(to_json(values), values[i_wallet] or None, values[i_tx] or None)
        yield event, parse_event_time_ms(values[i_time])


def _chain_first(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


def replay(path: str | Path, speed: float = 1.0) -> Source:
    """A CSV or JSON-lines file in file order, paced by event time at `speed`x (0 = unpaced).

    Pacing follows the highest event time seen so far: a late (out-of-order) or
    out-of-range-past event goes out at once, it does not rewind the clock; rows without a
    parseable event time go out at once too.
    """
    path = Path(path)
    if not path.is_file():
        raise ProducerError(f"replay file not found: {path}")
    fmt = _sniff_format(path)

    def gen() -> Iterator[Event]:
        pacer = _Pacer()
        first: int | None = None
        high: int | None = None
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
            for event, t in _replay_events(f, fmt):
                if speed > 0 and t is not None:
                    if first is None:
                        first = high = t
                    elif t > high:
                        high = t
                    pacer.wait((high - first) / 1000.0 / speed)
                yield event

    return Source(gen(), None, f"replay({path.name}, {fmt}, {speed:g}x)")


# ---------------------------------------------------------------- sinks


class KafkaProducerSink:
    """Idempotent Kafka producer; `send` is asynchronous, `close` waits for every ack."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        connect_timeout_s: float = 10.0,
        extra_config: dict | None = None,
        security: SecurityConfig | None = None,
    ) -> None:
        """`security`: TLS / SASL settings; None = `[security]` of the pipeline config."""
        from confluent_kafka import KafkaException, Producer

        self.topic = topic
        self.stats = ProducerStats()
        self.errors: list[str] = []
        config = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "compression.type": "lz4",
            "batch.num.messages": 10_000,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 500_000,
            "queue.buffering.max.kbytes": 512 * 1024,
            "message.timeout.ms": 60_000,
            "socket.connection.setup.timeout.ms": int(connect_timeout_s * 1000),
            "log_level": 0,  # connection failures are reported as ProducerError, not log spam
            **confluent_config(security or load_config().security),
            **(extra_config or {}),
        }
        self._producer = Producer(config)
        try:
            metadata = self._producer.list_topics(timeout=connect_timeout_s)
        except KafkaException as exc:
            raise ProducerError(
                f"Kafka broker at {bootstrap} is not reachable within {connect_timeout_s:g} s "
                f"({exc.args[0].str() if exc.args else exc}); is the stack up? "
                "(make stack-up / python -m pipeline.stack up)"
            ) from None
        if not metadata.brokers:
            raise ProducerError(f"Kafka at {bootstrap} reports no brokers")
        info = metadata.topics.get(topic)
        if info is None or info.error is not None:
            raise ProducerError(
                f"Kafka topic {topic!r} does not exist at {bootstrap} "
                f"(known topics: {', '.join(sorted(metadata.topics)) or 'none'})"
            )
        self.partitions = len(info.partitions)

    def _on_delivery(self, err, _msg) -> None:
        if err is None:
            self.stats.sent += 1
        else:
            self.stats.failed += 1
            if len(self.errors) < 10:
                self.errors.append(str(err))

    def send(self, event: Event) -> None:
        while True:
            try:
                self._producer.produce(
                    self.topic, event.value, event.key, on_delivery=self._on_delivery
                )
                break
            except BufferError:  # local queue full: serve delivery reports, then retry
                self._producer.poll(0.05)
        self._producer.poll(0)

    def flush(self, timeout_s: float = 120.0) -> None:
        remaining = self._producer.flush(timeout_s)
        if remaining:
            self.stats.failed += remaining
            self.errors.append(f"{remaining} messages still undelivered after {timeout_s:g} s")

    def close(self) -> None:
        self.flush()


class KinesisProducerSink:
    """Batched `put_records`; retries only the records a batch reports as failed."""

    def __init__(
        self,
        stream: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        client=None,
        max_attempts: int = 8,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
    ) -> None:
        self.stream = stream
        self.stats = ProducerStats()
        self.errors: list[str] = []
        self.max_attempts, self.backoff_s, self.max_backoff_s = (
            max_attempts,
            backoff_s,
            max_backoff_s,
        )
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "kinesis",
                endpoint_url=endpoint_url,
                region_name=region,
                config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
            )
        self.client = client
        try:
            summary = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        except Exception as exc:
            raise ProducerError(
                f"Kinesis stream {stream!r} at {endpoint_url or 'AWS'} is not reachable: {exc}"
            ) from None
        self.shards = summary.get("OpenShardCount")
        self._batch: list[dict] = []
        self._batch_bytes = 0

    @staticmethod
    def _partition_key(event: Event) -> str:
        key = event.key or event.tx_id or "unkeyed"
        return key[:256]

    def send(self, event: Event) -> None:
        key = self._partition_key(event)
        size = len(event.value) + len(key.encode())
        if size > KINESIS_MAX_RECORD_BYTES:
            self.stats.failed += 1
            self.errors.append(f"record of {size} bytes is over the 1 MiB Kinesis limit")
            return
        if (
            len(self._batch) >= KINESIS_MAX_RECORDS
            or self._batch_bytes + size > KINESIS_MAX_BATCH_BYTES
        ):
            self.flush()
        self._batch.append({"Data": event.value, "PartitionKey": key})
        self._batch_bytes += size

    def flush(self) -> None:
        records, self._batch, self._batch_bytes = self._batch, [], 0
        attempt = 0
        while records:
            attempt += 1
            try:
                response = self.client.put_records(StreamName=self.stream, Records=records)
            except Exception as exc:  # the whole call failed: nothing was written
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
                retryable = (
                    code
                    in (
                        "ProvisionedThroughputExceededException",
                        "ThrottlingException",
                        "LimitExceededException",
                        "KMSThrottlingException",
                        "InternalFailure",
                        "ServiceUnavailable",
                    )
                    or not code
                )
                if not retryable or attempt >= self.max_attempts:
                    self.stats.failed += len(records)
                    self.errors.append(f"put_records failed: {exc}")
                    return
                self.stats.retried += len(records)
                self._sleep(attempt)
                continue
            if not response.get("FailedRecordCount"):
                self.stats.sent += len(records)
                return
            failed = [
                rec
                for rec, result in zip(records, response["Records"], strict=True)
                if result.get("ErrorCode")
            ]
            self.stats.sent += len(records) - len(failed)
            if attempt >= self.max_attempts:
                self.stats.failed += len(failed)
                codes = {r.get("ErrorCode") for r in response["Records"] if r.get("ErrorCode")}
                self.errors.append(
                    f"{len(failed)} records failed after {attempt} attempts: {sorted(codes)}"
                )
                return
            self.stats.retried += len(failed)
            records = failed
            self._sleep(attempt)

    def _sleep(self, attempt: int) -> None:
        time.sleep(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))

    def close(self) -> None:
        self.flush()


# ---------------------------------------------------------------- running


class Progress:
    """A one-line text bar on stderr, redrawn at most `hz` times a second."""

    def __init__(self, total: int | None, out: TextIO | None = None, hz: float = 4.0) -> None:
        self.total, self.out, self.period = total, out or sys.stderr, 1.0 / hz
        self.start = self.last = time.monotonic()

    def update(self, done: int, stats: ProducerStats, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.period:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        if self.total:
            frac = min(done / self.total, 1.0)
            fill = int(frac * 30)
            bar = f"[{'#' * fill}{'.' * (30 - fill)}] {frac * 100:5.1f}% "
        else:
            bar = ""
        self.out.write(
            f"\r{bar}{done:,} events  {rate:,.0f}/s  acked {stats.sent:,}  "
            f"failed {stats.failed:,}  {elapsed:5.1f}s "
        )
        self.out.flush()

    def finish(self, done: int, stats: ProducerStats) -> None:
        self.update(done, stats, force=True)
        self.out.write("\n")
        self.out.flush()


def run(source: Iterable[Event], sink, progress: bool = False) -> ProducerStats:
    """Send every event of `source` to `sink`, wait for the last acknowledgement."""
    bar = Progress(getattr(source, "total", None)) if progress else None
    began = time.monotonic()
    done = 0
    try:
        for event in source:
            sink.send(event)
            done += 1
            if bar is not None and not done & 255:
                bar.update(done, sink.stats)
    finally:
        sink.close()
        sink.stats.elapsed = time.monotonic() - began
        if bar is not None:
            bar.finish(done, sink.stats)
    return sink.stats
