"""What every failure-injection scenario needs: a paced, pausable feeder into Kafka, a job
process that can be killed and restarted from its newest retained checkpoint (and is
restarted that way when it dies by itself), and the exact-count checks of the outputs."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from pipeline.config import PROJECT_ROOT, PipelineConfig
from pipeline.offline import OfflineResult

START_WAIT_S = 900  # a loaded 2-core machine may take minutes to start a job


@dataclass
class Outcome:
    """One row of the suite's table."""

    scenario: str
    events_in: int = 0
    valid_expected: int = 0
    processed_out: int = 0  # distinct valid transactions in the processed zone
    warehouse_out: int = 0  # distinct valid transactions in the warehouse
    alerts_out: int = 0  # distinct alerts in the alerts topic (read_committed)
    alerts_expected: int = 0
    dlq_out: int = 0  # records in the DLQ topic (read_committed)
    dlq_expected: int = 0
    duplicated: int = 0  # extra copies over the lake, the warehouse and both topics
    lost: int = 0  # expected records missing from any of them
    recovery_s: list[float] = field(default_factory=list)
    restarts: int = 0  # restarts from a checkpoint (kills + the job's own failures)
    wall_s: float = 0.0
    note: str = ""


class Feeder:
    """Sends `lines` to a Kafka topic at about `rate` records/s from a thread; `pause()`
    holds it (records already handed to the producer still go out). Idempotent producer,
    acks=all: a broker outage delays records, never doubles them."""

    def __init__(self, bootstrap: str, topic: str, lines: list[str], rate: float):
        self.bootstrap, self.topic, self.lines, self.rate = bootstrap, topic, lines, rate
        self.sent = 0
        self._running = threading.Event()
        self._running.set()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float = 600) -> None:
        self._thread.join(timeout)
        if self.error:
            raise self.error
        assert self.done, f"feeder of {self.topic} still running after {timeout}s"

    def _run(self) -> None:
        from confluent_kafka import Producer

        try:
            producer = Producer(
                {
                    "bootstrap.servers": self.bootstrap,
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 20,
                    "message.timeout.ms": 600_000,  # outlives a stopped broker
                }
            )
            step = max(1, int(self.rate / 10))
            t0 = time.monotonic()
            for i in range(0, len(self.lines), step):
                self._running.wait()
                for line in self.lines[i : i + step]:
                    _produce(producer, self.topic, line)
                self.sent = min(i + step, len(self.lines))
                producer.poll(0)
                ahead = self.sent / self.rate - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
                if not self._running.is_set():
                    t0 = time.monotonic() - self.sent / self.rate  # no burst after a pause
            assert producer.flush(600) == 0, "records left unsent"
        except BaseException as exc:  # surfaced by join()
            self.error = exc


def _produce(producer, topic: str, line: str) -> None:
    while True:
        try:
            producer.produce(topic, value=line.encode("utf-8", "surrogateescape"))
            return
        except BufferError:  # local queue full (e.g. broker down): wait for room
            producer.poll(0.5)


def send_all(bootstrap: str, topic: str, lines: list[str]) -> None:
    Feeder(bootstrap, topic, lines, rate=1e9).start().join()


class Job:
    """`python -m pipeline stream` (or another runner module) in its own process group,
    restarted from the newest retained checkpoint by `restart()` — and by `supervise()`
    whenever it exits on its own (the job's restart strategy is `none`: a failure ends the
    process, and this plays the part of the platform that starts it again)."""

    def __init__(self, workdir: Path, settings: dict[str, str]):
        self.workdir = workdir
        self.settings = settings
        self.log = workdir / "job.log"
        self.checkpoints = Path(settings["flink.checkpoint_dir"])
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.own_failures = 0
        self._supervising = False
        self._lock = threading.Lock()

    def start(
        self, restore: bool = False, module: str = "pipeline", extra: dict | None = None
    ) -> None:
        args = [sys.executable, "-m", module, "stream"]
        for key, value in {**self.settings, **(extra or {})}.items():
            args += ["--set", f"{key}={value}"]
        if restore:
            args.append("--restore-latest")
        with open(self.log, "ab") as out:
            out.write(
                f"\n=== {time.strftime('%H:%M:%S')} start {' '.join(args[2:4])}"
                f"{' --restore-latest' if restore else ''}\n".encode()
            )
            out.flush()
            self.proc = subprocess.Popen(
                args,
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: the Python driver and its JVM (TaskManager,
        with the Python functions in thread mode) die at once, no clean shutdown."""
        with self._lock:
            if self.proc is None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(60)

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start(restore=True)

    def supervise(self) -> None:
        """Restart from the newest checkpoint whenever the job exits by itself."""
        self._supervising = True

        def loop():
            while self._supervising:
                time.sleep(1)
                with self._lock:
                    died = self._supervising and self.proc is not None and not self.alive()
                if died:
                    self.own_failures += 1
                    self.restarts += 1
                    self.start(restore=True)

        threading.Thread(target=loop, daemon=True).start()

    def stop(self) -> None:
        self._supervising = False
        self.kill()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def checkpoint_since(self, t: float) -> float | None:
        """Wall time of the first checkpoint completed after `t` (epoch s), if any."""
        times = [
            m.stat().st_mtime
            for m in self.checkpoints.glob("*/chk-*/_metadata")
            if m.stat().st_mtime > t
        ]
        return min(times, default=None)

    def wait_checkpoint_after(self, t: float, timeout_s: float = START_WAIT_S) -> float:
        """Seconds from `t` until a checkpoint completed after it (the recovery time)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = self.checkpoint_since(t)
            if done is not None:
                return done - t
            if not self.alive() and not self._supervising:
                raise AssertionError(f"job exited:\n{self.log_tail()}")
            time.sleep(0.5)
        raise AssertionError(f"no checkpoint within {timeout_s}s:\n{self.log_tail()}")


def wait_until(what: str, condition, job: Job | None, timeout_s: float = START_WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        if job is not None and not job._supervising and job.proc and job.proc.poll() is not None:
            raise AssertionError(f"job exited before {what}:\n{job.log_tail()}")
        time.sleep(1)
    raise AssertionError(
        f"timed out ({timeout_s:.0f}s) waiting for {what}\n{job.log_tail() if job else ''}"
    )


@dataclass
class Expected:
    """What the outputs must hold, from the offline replay of exactly the records sent."""

    valid: Counter  # tx_id -> 1
    alerts: Counter  # alert_id -> 1
    dlq: Counter  # original record bytes -> count

    @classmethod
    def of(cls, offline: OfflineResult) -> Expected:
        return cls(
            Counter(s.view.event.tx.tx_id for s in offline.scored),
            Counter(a.alert_id for a in offline.alerts),
            Counter(raw.encode("utf-8", "surrogateescape") for raw, _ in offline.rejections),
        )


def compare(got: Counter, expected: Counter) -> tuple[int, int]:
    """(duplicated, lost): copies beyond the expected count, and expected ones missing."""
    duplicated = sum(max(0, n - expected.get(k, 0)) for k, n in got.items())
    lost = sum(max(0, n - got.get(k, 0)) for k, n in expected.items())
    return duplicated, lost


def check_topics(outcome: Outcome, expected: Expected, bootstrap: str, topics: dict) -> dict:
    """Read the alerts and DLQ topics read_committed and count them against `expected`."""
    from tests.kafka_topics import read_committed

    alerts = [orjson.loads(v) for _, v in read_committed(bootstrap, topics["alerts"])]
    dlq = [orjson.loads(v) for _, v in read_committed(bootstrap, topics["dlq"])]
    got_alerts = Counter(a["alert_id"] for a in alerts)
    got_dlq = Counter(base64.b64decode(r["original"]) for r in dlq)
    outcome.alerts_out, outcome.alerts_expected = len(got_alerts), len(expected.alerts)
    outcome.dlq_out, outcome.dlq_expected = len(dlq), sum(expected.dlq.values())
    return {
        "alerts topic": compare(got_alerts, expected.alerts),
        "dlq topic": compare(got_dlq, expected.dlq),
    }


def check_warehouse(
    outcome: Outcome, expected: Expected, cfg: PipelineConfig, lake_root: str, schema: str
) -> dict:
    """Load the lake's committed objects into a fresh warehouse schema with the loader and
    count the transactions there."""
    import dataclasses

    from pipeline.warehouse.lake import open_lake
    from pipeline.warehouse.loader import Loader
    from pipeline.warehouse.migrate import migrate
    from pipeline.warehouse.session import open_session

    wcfg = dataclasses.replace(cfg.warehouse, schema=schema, lake_root=lake_root)
    session = open_session(wcfg)
    migrate(session)
    session.close()
    loader = Loader(wcfg, open_lake(wcfg))
    loader.run_once()
    loader.close()
    return {"warehouse": warehouse_counts(outcome, expected, wcfg)}


def warehouse_counts(outcome: Outcome, expected: Expected, wcfg) -> tuple[int, int]:
    from pipeline.warehouse.session import open_session

    session = open_session(wcfg)
    rows = session.execute_native("SELECT tx_id FROM scored_transactions").fetchall()
    session.commit()
    session.close()
    got = Counter(r[0] for r in rows)
    outcome.warehouse_out = len(got)
    return compare(got, expected.valid)


def drop_schema(cfg: PipelineConfig, schema: str) -> None:
    import dataclasses

    from pipeline.warehouse.session import open_session

    session = open_session(dataclasses.replace(cfg.warehouse, schema=schema))
    session.execute_native(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    session.commit()
    session.close()


def settle(outcome: Outcome, counts: dict[str, tuple[int, int]]) -> None:
    """Fill duplicated / lost from every output's (duplicated, lost) and assert none."""
    outcome.duplicated = sum(d for d, _ in counts.values())
    outcome.lost = sum(lost for _, lost in counts.values())
    bad = {name: c for name, c in counts.items() if c != (0, 0)}
    assert not bad, f"{outcome.scenario}: (duplicated, lost) per output {bad}"


def render_table(outcomes: list[Outcome]) -> str:
    head = (
        "| scenario | events in | valid expected | processed zone | warehouse | alerts topic "
        "(expected) | DLQ topic (expected) | duplicated | lost | restarts | recovery s | wall s |"
    )
    rows = [head, "|" + "---|" * 12]
    for o in outcomes:
        rec = ", ".join(f"{r:.0f}" for r in o.recovery_s) or "-"
        rows.append(
            f"| {o.scenario} | {o.events_in:,} | {o.valid_expected:,} | {o.processed_out:,} | "
            f"{o.warehouse_out:,} | {o.alerts_out:,} ({o.alerts_expected:,}) | "
            f"{o.dlq_out:,} ({o.dlq_expected:,}) | {o.duplicated} | {o.lost} | {o.restarts} | "
            f"{rec} | {o.wall_s:.0f} |" + (f" {o.note}" if o.note else "")
        )
    return "\n".join(rows)
