"""Benchmark: the Flink job against the plain-Python baseline on the same generated events.

    python -m pipeline bench --events 1000000

Each side runs in its own process (so memory is its own). Printed: events/s (wall time of
the run, startup included, and of the processing alone), p50/p99 per-event processing
time, peak memory of the JVM (thread mode hosts the Python functions inside it) and of
any Python worker processes, CPU time per event (all threads) and how many cores were busy
on average, the job's CPU per event by stage (its JVM threads; `pipeline/process_stats.py`),
how its tasks spent their time in steady state (busy, backpressured, idle: Flink's task
metrics, `pipeline/task_times.py`), and the execution mode and bundle settings used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from operators import compiled

from . import class_sharing
from .config import PROJECT_ROOT, PipelineConfig, load_config
from .process_stats import ProcessSampler, self_cpu_seconds, self_peak_rss
from .task_times import TaskTimeSampler, steady_state

BENCH_DIR = PROJECT_ROOT / ".bench"
BENCH_SEED = 23


def dataset(events: int) -> tuple[Path, Path]:
    """Generated events (cached per size): the transactions CSV and its wallets file."""
    folder = BENCH_DIR / f"events-{events}-seed{BENCH_SEED}"
    tx, wallets = folder / "transactions.csv", folder / "wallets.csv"
    if not (tx.is_file() and wallets.is_file()):
        folder.mkdir(parents=True, exist_ok=True)
        from datasets.generator import Config, generate_files

        print(f"generating {events:,} events into {folder} …", file=sys.stderr)
        generate_files(Config(events=events, seed=BENCH_SEED), tx, wallets_out=wallets)
    return tx, wallets


def run_flink(cfg: PipelineConfig) -> dict:
    from .run import run_job
    from .summary import read_processed

    # `make bench` gives its Flink side a free port of its own (`_child`).
    with ProcessSampler() as sampler, TaskTimeSampler(cfg.metrics.prometheus_ports) as tasks:
        started = time.perf_counter()
        result = run_job(cfg)
        wall = time.perf_counter() - started
    table = read_processed(
        cfg.resolve(cfg.sink.output_dir) / "processed", ["processing_us", "processed_at_ms"]
    )
    us = table.column("processing_us").to_numpy()
    done = table.column("processed_at_ms").to_numpy()
    busy_s = (done.max() - done.min()) / 1000 if len(done) else float("nan")
    s = result.summary
    return {
        "events": s.events_read,
        "wall_s": wall,
        "processing_s": busy_s,
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "peak_rss": {"driver": self_peak_rss(), **sampler.peaks},
        "cpu_s": sampler.cpu_by_stage(),
        "task_ms_per_s": steady_state(tasks.samples),
        "accounted": s.accounted,
        "alerts": s.alerts_total,
    }


def run_baseline(cfg: PipelineConfig) -> dict:
    """The same operators in a plain single-process loop (no Flink, no guarantees)."""
    from operators.wallet_risk import collect_garbage_rarely

    from .components import Components
    from .offline import iter_records, replay

    comps = Components(cfg)
    comps.wallet_risk, comps.scorer  # noqa: B018 - load reference data and model before timing
    collect_garbage_rarely()  # as the job's keyed function does
    started, cpu_started = time.perf_counter(), self_cpu_seconds()
    records = list(iter_records(cfg.resolve(cfg.source.path)))
    result = replay(records, comps, score=True, time_records=True)
    wall, cpu = time.perf_counter() - started, self_cpu_seconds() - cpu_started
    us = np.asarray(result.record_us)
    return {
        "events": len(records) - 1,
        "wall_s": wall,
        "processing_s": wall,
        "p50_us": float(np.percentile(us, 50)),
        "p99_us": float(np.percentile(us, 99)),
        "peak_rss": {"driver": self_peak_rss()},
        "cpu_s": {"the Python loop": cpu},
        "accounted": True,
        "alerts": len(result.alerts),
    }


def kafka_topic_with(tx: Path, events: int) -> str:
    """A local-stack topic holding the dataset as JSON (filled once, reused while it lasts)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    from . import stack
    from .producers import KafkaProducerSink, replay, run
    from .run import kafka_topic_records

    stack.up(verbose=False)
    topic = f"bench-{events}-seed{BENCH_SEED}"
    admin = AdminClient({"bootstrap.servers": stack.KAFKA_BOOTSTRAP})
    if topic not in admin.list_topics(timeout=10).topics:
        # One partition keeps file order, so both sides see the same per-wallet sequences.
        admin.create_topics([NewTopic(topic, num_partitions=1)])[topic].result(30)
    if kafka_topic_records(stack.KAFKA_BOOTSTRAP, topic) != events:
        print(f"producing {events:,} events to Kafka topic {topic} …", file=sys.stderr)
        run(replay(tx, speed=0), KafkaProducerSink(stack.KAFKA_BOOTSTRAP, topic))
    return topic


def kinesis_stream_with(tx: Path, events: int) -> str:
    """A local-stack (moto) stream of one shard holding the dataset as JSON; delete it after.

    One shard keeps file order. moto keeps records in its own memory (~1 KB each) and scans
    a shard from the start on every GetRecords, so keep --events to ~100k here.
    """
    from . import stack
    from .producers import KinesisProducerSink, replay, run
    from .run import kinesis_stream_records

    stack.up(verbose=False)
    stack.local_aws_env()
    name = f"bench-{events}-seed{BENCH_SEED}"
    kinesis = stack.aws_client("kinesis")
    if name not in kinesis.list_streams().get("StreamNames", []):
        kinesis.create_stream(StreamName=name, ShardCount=1)
        kinesis.get_waiter("stream_exists").wait(StreamName=name)
    if kinesis_stream_records(name, stack.MOTO_ENDPOINT, stack.AWS_REGION) != events:
        print(f"putting {events:,} events into Kinesis stream {name} …", file=sys.stderr)
        stats = run(replay(tx, speed=0), KinesisProducerSink(name, stack.MOTO_ENDPOINT))
        print(f"  {stats.summary()}", file=sys.stderr)
    return name


def _child(args: list[str]) -> int:
    side, events, source = args[0], int(args[1]), args[2]
    tx, wallets = dataset(events)
    overrides = {
        "source.path": str(tx),
        "reference.wallets_file": str(wallets),
        "sink.output_dir": str(BENCH_DIR / "out"),
        "flink.checkpoint_dir": str(BENCH_DIR / "checkpoints"),
    }
    if side == "flink":
        from .stack import free_port

        overrides["metrics.prometheus_ports"] = str(free_port())
    stack_was_up = True
    if source == "kafka" and side == "flink":
        from . import stack

        stack_was_up = all(stack.status().values())
        overrides |= {
            "source.kind": "kafka",
            "source.format": "jsonl",
            "source.kafka_topic": kafka_topic_with(tx, events),
            "source.kafka_bounded": "true",
        }
    stream = None
    if source == "kinesis" and side == "flink":
        from . import stack

        stack_was_up = all(stack.status().values())
        stream = kinesis_stream_with(tx, events)
        overrides |= {
            "source.kind": "kinesis",
            "source.format": "jsonl",
            "source.kinesis_stream": stream,
            "source.kinesis_endpoint": stack.MOTO_ENDPOINT,
            "source.kinesis_bounded": "true",
        }
    cfg = load_config(overrides)
    try:
        out = run_flink(cfg) if side == "flink" else run_baseline(cfg)
    finally:
        if stream:  # moto holds the records in memory: give it back
            from . import stack

            stack.aws_client("kinesis").delete_stream(StreamName=stream)
        if not stack_was_up:  # leave the machine as we found it
            from . import stack

            stack.down(verbose=False)
    out["settings"] = {
        "source": cfg.source.kind,
        "parallelism": cfg.flink.parallelism,
        "python_execution_mode": cfg.flink.python_execution_mode,
        "bundle_size": cfg.flink.bundle_size,
        "bundle_time_ms": cfg.flink.bundle_time_ms,
        "checkpoint_interval_ms": cfg.flink.checkpoint_interval_ms,
        "state_backend": cfg.flink.state_backend,
        "per_record_python": compiled.status(),
        "jvm_class_data_archive": class_sharing.status(),
    }
    print("BENCH-RESULT " + json.dumps(out))
    return 0


def _run_side(side: str, events: int, source: str) -> dict:
    return run_side_process("pipeline.bench", [side, str(events), source], "benchmark")


def run_side_process(module: str, args: list[str], what: str) -> dict:
    """Run one side of a benchmark (`python -m <module> <args>`) in a fresh process and
    return the JSON of its `BENCH-RESULT` line; a failure raises with the side's output."""
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line.removeprefix("BENCH-RESULT "))
    sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-5000:])
    raise RuntimeError(f"{what} side {args[0]!r} failed (exit {proc.returncode})")


def _mb(n: int | None) -> str:
    return f"{n / 2**20:,.0f} MB" if n else "-"


def _cpu_total(result: dict) -> float:
    return sum(result["cpu_s"].values())


def _cpu_us(result: dict) -> float:
    return _cpu_total(result) / result["events"] * 1e6


def print_cpu_by_stage(result: dict) -> None:
    """The Flink side's CPU per event by stage (its JVM threads, `pipeline/process_stats.py`).

    Start-up (JVM, job planning) and JIT warm-up count too, so short runs overstate them."""
    n = result["events"]
    print(f"\n{'Flink job CPU by stage, all of the run':<58}{'µs per event':>14}{'share':>8}")
    total = _cpu_total(result)
    for stage, cpu in sorted(result["cpu_s"].items(), key=lambda kv: -kv[1]):
        print(f"  {stage:<56}{cpu / n * 1e6:>14.1f}{cpu / total:>8.0%}")


def print_task_times(result: dict) -> None:
    """Flink's busy / backpressured / idle time per task, averaged over the steady state."""
    tasks = result.get("task_ms_per_s") or {}
    columns = (("busy", 8), ("backpressured", 15), ("idle", 8))
    title = "Flink tasks, steady state (ms per second)"
    print(f"\n{title:<58}" + "".join(f"{kind:>{width}}" for kind, width in columns))
    if not tasks:
        print("  (no samples: the run was too short)")
    for task, kinds in sorted(tasks.items(), key=lambda kv: -kv[1].get("busy", 0)):
        name = task if len(task) <= 56 else task[:53] + "..."
        cells = (
            f"{kinds[kind]:>{width}.0f}" if kind in kinds else f"{'-':>{width}}"
            for kind, width in columns
        )
        print(f"  {name:<56}" + "".join(cells))


def main(events: int, source: str = "file") -> int:
    """`source`: where the Flink side reads the events: the file, or a local-stack Kafka topic
    or Kinesis stream filled with them first."""
    dataset(events)
    results = {side: _run_side(side, events, source) for side in ("baseline", "flink")}
    rows = [
        ("events", lambda r: f"{r['events']:,}"),
        ("wall time (s, startup incl.)", lambda r: f"{r['wall_s']:.1f}"),
        ("events/s (wall)", lambda r: f"{r['events'] / r['wall_s']:,.0f}"),
        ("events/s (processing only)", lambda r: f"{r['events'] / r['processing_s']:,.0f}"),
        ("p50 per-event processing (µs)", lambda r: f"{r['p50_us']:.0f}"),
        ("p99 per-event processing (µs)", lambda r: f"{r['p99_us']:.0f}"),
        ("peak RSS driver", lambda r: _mb(r["peak_rss"].get("driver"))),
        ("peak RSS JVM (incl. thread-mode Python)", lambda r: _mb(r["peak_rss"].get("jvm"))),
        ("peak RSS Python workers", lambda r: _mb(r["peak_rss"].get("python-worker"))),
        ("CPU per event, all threads (µs)", lambda r: f"{_cpu_us(r):.0f}"),
        ("cores busy on average (CPU / wall time)", lambda r: f"{_cpu_total(r) / r['wall_s']:.2f}"),
        ("alerts", lambda r: f"{r['alerts']:,}"),
        ("all records accounted for", lambda r: "yes" if r["accounted"] else "NO"),
    ]
    print(f"\n{'':<42}{'baseline (plain Python)':>26}{'Flink job':>16}")
    for label, fmt in rows:
        print(f"{label:<42}{fmt(results['baseline']):>26}{fmt(results['flink']):>16}")
    print_cpu_by_stage(results["flink"])
    print_task_times(results["flink"])
    s = results["flink"]["settings"]
    print(
        "\nFlink settings: "
        + ", ".join(f"{k}={v}" for k, v in s.items())
        + "\nbaseline: same operators in one Python loop, ONNX in batches of 4096, no Flink, "
        "no checkpoints, no sinks"
    )
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
