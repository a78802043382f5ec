"""The whole pipeline on the local stack: both producers send while the job reads Kafka and
Kinesis at once.

    python -m pipeline.demo                   # until Ctrl-C
    python -m pipeline.demo --seconds 120 --kafka-rate 300 --kinesis-rate 150

Brings the local stack up (or reuses it), starts the job on `kafka+kinesis` from "now"
(`timestamp` start on both sources, so older records in the topic / stream are skipped),
starts a synthetic producer for each source at the given rates, and prints where the
committed results land. On exit (Ctrl-C or --seconds) it stops the producers and the job
and prints what was committed. Outputs commit at every checkpoint (every 5 s here).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from . import stack
from .config import PROJECT_ROOT, load_config
from .sinks import OutputPaths
from .summary import read_json_lines, read_processed

DEMO_DIR = "out/demo"
DEMO_SEED = 101


def world_wallets(out: Path, events: int) -> Path:
    """The wallet metadata of the demo's generated world (the job enriches with it)."""
    from datasets.generator import Config, generate

    class Enough(Exception):
        pass

    class StopAtFirstRecord(io.TextIOBase):
        def write(self, s: str) -> int:
            raise Enough  # the metadata is written before the first record

    wallets = out / f"wallets-{events}-seed{DEMO_SEED}.csv"
    if not wallets.is_file():
        with open(wallets, "w", newline="") as f, contextlib.suppress(Enough):
            config = Config(events=events, seed=DEMO_SEED, fmt="jsonl")
            generate(config, StopAtFirstRecord(), wallets_out=f)
    return wallets


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seconds", type=float, default=0, help="stop after this long [0 = Ctrl-C]")
    p.add_argument(
        "--rate", type=float, default=300, help="events/s of the world, split over both [300]"
    )
    p.add_argument("--out", default=DEMO_DIR, help=f"output folder [{DEMO_DIR}]")
    return p


def job_settings(out: Path, start_ms: int, wallets: Path) -> dict[str, str]:
    """Config of the demo job: both sources of the local stack, from `start_ms` on."""
    return {
        "source.kind": "kafka+kinesis",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": stack.KAFKA_BOOTSTRAP,
        "source.kafka_topic": "transactions",
        "source.kafka_start": "timestamp",
        "source.kinesis_stream": stack.KINESIS_STREAM,
        "source.kinesis_endpoint": stack.MOTO_ENDPOINT,
        "source.kinesis_start": "timestamp",
        "source.start_timestamp_ms": str(start_ms),
        "reference.wallets_file": str(wallets),
        "sink.output_dir": str(out / "lake"),
        "flink.checkpoint_dir": str(out / "checkpoints"),
        "flink.log_dir": str(out / "logs"),
        "flink.checkpoint_interval_ms": "5000",
    }


def _start(args: list[str], log: Path) -> subprocess.Popen:
    """A child in its own process group (so its JVM can be stopped with it)."""
    handle = open(log, "ab")  # noqa: SIM115 - inherited by the child
    return subprocess.Popen(
        args,
        cwd=PROJECT_ROOT,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGINT first (the job and producers stop cleanly), then SIGKILL the whole group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def committed_report(paths: OutputPaths) -> str:
    table = read_processed(paths.processed, ["tx_id"])
    processed = 0 if table is None else table.num_rows
    alerts, dlq = read_json_lines(paths.alerts), read_json_lines(paths.dlq)
    duplicates = read_json_lines(paths.duplicates)
    by_rule = Counter(rule for a in alerts for rule in a["rule_ids"])
    lines = [
        f"committed: processed {processed:,}, alerts {len(alerts):,}, "
        f"DLQ {len(dlq):,}, duplicates dropped {len(duplicates):,}",
        "  alerts by rule: " + (", ".join(f"{r} {n}" for r, n in by_rule.most_common()) or "-"),
        "  DLQ reasons:    "
        + (", ".join(f"{r} {n}" for r, n in Counter(d["reason"] for d in dlq).items()) or "-"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = load_config().resolve(args.out)
    if (out / "lake").exists():
        shutil.rmtree(out / "lake")  # each demo shows its own results
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    stack.up(verbose=True)
    stack.local_aws_env()

    # One generated world (enough events for the run; producers stop with the job), split
    # by wallet: each producer sends its half, so every wallet's history is consistent.
    events = int(args.rate * (args.seconds or 3600)) + 1
    wallets = world_wallets(out, events)
    start_ms = int(time.time() * 1000)
    settings = job_settings(out, start_ms, wallets)
    job_cmd = [sys.executable, "-m", "pipeline", "run"]
    for key, value in settings.items():
        job_cmd += ["--set", f"{key}={value}"]
    producers = {
        sink: [
            sys.executable, "-m", "pipeline.produce", sink, "--quiet", "--rate", str(args.rate),
            "--events", str(events), "--seed", str(DEMO_SEED), "--part", f"{part}/2",
        ]
        for part, sink in enumerate(("kafka", "kinesis"))
    }  # fmt: skip
    paths = OutputPaths(out / "lake")
    children: list[subprocess.Popen] = []
    try:
        children.append(_start(job_cmd, logs / "job.log"))
        for name, cmd in producers.items():
            children.append(_start(cmd, logs / f"producer-{name}.log"))
        print(
            f"job reading kafka {stack.KAFKA_BOOTSTRAP}/transactions + kinesis "
            f"{stack.MOTO_ENDPOINT}/{stack.KINESIS_STREAM} from {start_ms} (now); the producers "
            f"send one world of {args.rate:g} events/s, half of the wallets each.\n"
            f"Results (committed every 5 s):\n"
            + "\n".join(f"  {name:<11}{path}" for name, path in paths.all().items())
            + f"\n  job log    {logs / 'job.log'}  (Flink: {logs / 'flink-*.log'})"
            f"\n  producers  {logs / 'producer-kafka.log'}, {logs / 'producer-kinesis.log'}"
            "\n  web UI     none on the local minicluster; see the Flink log"
            f"\nStop with Ctrl-C{'' if not args.seconds else f' (or wait {args.seconds:g} s)'}.",
            flush=True,
        )
        deadline = time.monotonic() + args.seconds if args.seconds else None
        last = ""
        while deadline is None or time.monotonic() < deadline:
            if children[0].poll() is not None:
                print(f"the job exited (code {children[0].returncode}); see {logs / 'job.log'}")
                break
            time.sleep(5)
            now = committed_report(paths).splitlines()[0]
            if now != last:  # the job needs ~20 s (more on a busy machine) to start
                print(time.strftime("%H:%M:%S"), now, flush=True)
                last = now
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        for child in reversed(children):
            _stop(child)
    print(committed_report(paths))
    print(f"outputs under {out / 'lake'}; checkpoints under {out / 'checkpoints'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
