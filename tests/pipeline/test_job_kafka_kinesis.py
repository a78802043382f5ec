"""The job reading Kafka and Kinesis of the local stack at once: a bounded run processes every
event exactly once, and a job killed mid-stream and restarted from its last checkpoint loses
and doubles nothing."""

from __future__ import annotations

import csv
import hashlib
import threading
import time
import uuid
import zlib
from collections import Counter
from pathlib import Path

import orjson
import pytest

from pipeline import stack
from pipeline.components import Components
from pipeline.config import load_config
from pipeline.offline import iter_records, replay
from pipeline.producers import KinesisProducerSink, json_event
from pipeline.run import expected_records
from pipeline.sinks import OutputPaths
from pipeline.summary import read_json_lines, read_processed
from tests.jobs import assert_outputs_match_offline, kill_job, run_job, start_job
from tests.kafka_topics import unique_topic
from tests.pipeline.test_job_kafka import produce

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]


def generated(tmp_path: Path, events: int, seed: int) -> tuple[list[str], Path, Path]:
    from datasets.generator import Config, generate_files

    source, labels, wallets = tmp_path / "tx.jsonl", tmp_path / "labels.csv", tmp_path / "w.csv"
    generate_files(Config(events=events, seed=seed, fmt="jsonl"), source, labels, wallets)
    return [line.rstrip("\n") for line in iter_records(source)], labels, wallets


def goes_to_kafka(line: str) -> bool:
    """Split records between the two sources by wallet, so each wallet's records keep their
    order (one Kafka partition, one shard per key); unreadable records split by content."""
    return _kafka_wallet(json_event(line).key or line)


def _kafka_wallet(wallet: str) -> bool:
    return zlib.crc32(wallet.encode("utf-8", "surrogateescape")) % 2 == 0


def _lane(wallet: str, shards: int) -> tuple[str, int]:
    """The ordered channel a wallet's records travel: Kafka (one partition), or the Kinesis
    shard whose hash-key range holds MD5(partition key) (moto splits the range evenly)."""
    if _kafka_wallet(wallet):
        return ("kafka", 0)
    digest = int(hashlib.md5(wallet.encode("utf-8", "surrogateescape")).hexdigest(), 16)
    return ("kinesis", digest * shards >> 128)


def without_cross_lane_transfers(lines: list[str], labels: Path, shards: int) -> list[str]:
    """Drop valid transfers between wallets whose records travel different channels.

    The receiver's mirrored copy of such a transfer would come through another channel
    (source, or Kinesis shard) than the receiver's own records, and the job interleaves
    channels in arrival order, which no offline replay can reproduce. Without them every
    wallet sees all its records in file order, so the offline replay is the exact oracle.
    Malformed records all stay (the DLQ check counts them from the labels).
    """
    with open(labels, newline="") as f:
        malformed = {r["tx_id"] for r in csv.DictReader(f) if r["noise"] == "malformed"}
    kept = []
    for line in lines:
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            rec = None
        if (
            isinstance(rec, dict)
            and rec.get("tx_id") not in malformed
            and rec.get("tx_type") == "transfer"
            and isinstance(rec.get("counterparty_wallet"), str)
            and isinstance(rec.get("wallet_id"), str)
            and _lane(rec["counterparty_wallet"], shards) != _lane(rec["wallet_id"], shards)
        ):
            continue
        kept.append(line)
    return kept


@pytest.fixture
def fresh_stream(local_stack):
    """A factory of new Kinesis streams, deleted after the test (moto keeps them in memory)."""
    kinesis = stack.aws_client("kinesis")
    made: list[str] = []

    def make(shards: int) -> str:
        name = f"ingest-test-{uuid.uuid4().hex[:8]}"
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        kinesis.get_waiter("stream_exists").wait(
            StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        made.append(name)
        return name

    yield make
    for name in made:
        kinesis.delete_stream(StreamName=name)


def put_kinesis(stream: str, lines: list[str]) -> None:
    sink = KinesisProducerSink(stream, stack.MOTO_ENDPOINT, stack.AWS_REGION)
    for line in lines:
        sink.send(json_event(line))
    sink.flush()
    assert sink.stats.failed == 0, sink.errors
    assert sink.stats.sent == len(lines)


def source_overrides(bootstrap: str, topic: str, stream: str, wallets: Path) -> dict[str, str]:
    return {
        "source.kind": "kafka+kinesis",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": bootstrap,
        "source.kafka_topic": topic,
        "source.kinesis_stream": stream,
        "source.kinesis_endpoint": stack.MOTO_ENDPOINT,
        "source.kinesis_poll_interval_ms": "100",
        "reference.wallets_file": str(wallets),
    }


def test_job_processes_kafka_and_kinesis_exactly_once(local_stack, fresh_stream, tmp_path):
    lines, labels, wallets = generated(tmp_path, 3_000, seed=21)
    lines = without_cross_lane_transfers(lines, labels, shards=1)
    to_kafka = [line for line in lines if goes_to_kafka(line)]
    to_kinesis = [line for line in lines if not goes_to_kafka(line)]
    assert to_kafka and to_kinesis
    topic, stream = unique_topic("transactions-ingest"), fresh_stream(shards=1)
    produce(local_stack, topic, to_kafka)
    put_kinesis(stream, to_kinesis)

    overrides = {
        **source_overrides(local_stack, topic, stream, wallets),
        "source.kafka_bounded": "true",
        "source.kinesis_bounded": "true",
    }
    # Counted from the brokers, independently of the job: Kafka watermarks, Kinesis shards.
    assert expected_records(load_config(overrides)) == len(lines)
    paths = run_job(tmp_path, tmp_path / "unused", 1, **overrides)

    offline = replay(iter(lines), Components(load_config(overrides)))
    outputs = assert_outputs_match_offline(paths, offline, labels)
    processed, dlq = outputs["processed"], outputs["dlq"]
    sources = f"kafka:{local_stack}/{topic}+kinesis:{stack.MOTO_ENDPOINT}/{stream}"
    assert all(r["source"] == sources for r in dlq)
    duplicates = read_json_lines(paths.duplicates)
    assert len(processed) + len(dlq) + len(duplicates) == len(lines)


def committed_records(paths: OutputPaths) -> tuple[list[str], int, int]:
    """Processed tx_ids, DLQ count and duplicates count in the committed output files."""
    table = read_processed(paths.processed, ["tx_id"])
    ids = [] if table is None else table.column("tx_id").to_pylist()
    return ids, len(read_json_lines(paths.dlq)), len(read_json_lines(paths.duplicates))


def latest_checkpoint(checkpoints: Path) -> Path | None:
    done = [m.parent for m in checkpoints.glob("*/chk-*/_metadata")]
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def wait_for(what: str, check, timeout_s: float, job) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert job.poll() is None, f"the job exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_job_killed_mid_stream_resumes_from_its_checkpoint_without_loss_or_duplicates(
    local_stack, fresh_stream, tmp_path
):
    lines, labels, wallets = generated(tmp_path, 4_000, seed=33)
    lines = without_cross_lane_transfers(lines, labels, shards=2)
    first, second = lines[:2_000], lines[2_000:]
    topic, stream = unique_topic("transactions-ingest"), fresh_stream(shards=2)
    produce(local_stack, topic, [line for line in first if goes_to_kafka(line)])
    put_kinesis(stream, [line for line in first if not goes_to_kafka(line)])

    overrides = {
        **source_overrides(local_stack, topic, stream, wallets),
        "sink.output_dir": str(tmp_path / "lake"),
        "flink.checkpoint_dir": str(tmp_path / "checkpoints"),
        "flink.log_dir": str(tmp_path / "logs"),
        "flink.checkpoint_interval_ms": "1000",
    }
    paths = OutputPaths(tmp_path / "lake")

    job = start_job(tmp_path, 1, **overrides)
    try:
        wait_for("first outputs", lambda: committed_records(paths)[0], 300, job)
        # The second half arrives while the job runs; the job dies part-way through it.
        sender = threading.Thread(target=send_slowly, args=(local_stack, topic, stream, second))
        sender.start()
        time.sleep(2.5)
        assert sender.is_alive(), "the kill must land mid-stream"
    finally:
        kill_job(job)
    sender.join()
    before = committed_records(paths)
    checkpoint = latest_checkpoint(tmp_path / "checkpoints")
    assert checkpoint is not None
    assert sum(len(x) if isinstance(x, list) else x for x in before) < len(lines)

    job = start_job(tmp_path, 1, **overrides, **{"flink.restore_path": str(checkpoint)})
    try:
        total = lambda: (lambda r: len(r[0]) + r[1] + r[2])(committed_records(paths))  # noqa: E731
        wait_for("every record", lambda: total() >= len(lines), 180, job)
        time.sleep(3)  # two more checkpoints: any record read twice would be committed by now
    finally:
        kill_job(job)

    offline = replay(iter(lines), Components(load_config(overrides)))
    outputs = assert_outputs_match_offline(paths, offline, labels)
    processed, dlq = outputs["processed"], outputs["dlq"]
    duplicates = read_json_lines(paths.duplicates)
    assert len(processed) + len(dlq) + len(duplicates) == len(lines)
    assert Counter(processed).most_common(1)[0][1] == 1


def send_slowly(bootstrap: str, topic: str, stream: str, lines: list[str]) -> None:
    """Send in ten slices a second apart, so the job is killed while records still arrive."""
    step = max(1, len(lines) // 10)
    for i in range(0, len(lines), step):
        chunk = lines[i : i + step]
        produce_more(bootstrap, topic, [line for line in chunk if goes_to_kafka(line)])
        put_kinesis(stream, [line for line in chunk if not goes_to_kafka(line)])
        time.sleep(1.0)


def produce_more(bootstrap: str, topic: str, lines: list[str]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for line in lines:
        key = json_event(line).key
        producer.produce(topic, value=line.encode(), key=key.encode() if key else None)
    assert producer.flush(30) == 0


def test_kinesis_timestamp_start_skips_older_records_and_bad_bytes_reach_the_dlq(
    local_stack, fresh_stream, tmp_path
):
    lines, _, wallets = generated(tmp_path, 400, seed=5)
    valid = lines[:200]
    stream = fresh_stream(shards=1)
    put_kinesis(stream, valid[:100])  # before the start time: never read
    time.sleep(1.5)
    start_ms = int(time.time() * 1000)
    time.sleep(0.5)
    kinesis = stack.aws_client("kinesis")
    bad = [b'{"tx_id":"tx_bad\xff\xfe","wallet_id":"w_1"}', b"x" * 70_000]
    for data in bad:
        kinesis.put_record(StreamName=stream, Data=data, PartitionKey="bad")
    put_kinesis(stream, valid[100:])

    overrides = {
        "source.kind": "kinesis",
        "source.format": "jsonl",
        "source.kinesis_stream": stream,
        "source.kinesis_endpoint": stack.MOTO_ENDPOINT,
        "source.kinesis_start": "timestamp",
        "source.start_timestamp_ms": str(start_ms),
        "source.kinesis_bounded": "true",
        "reference.wallets_file": str(wallets),
    }
    paths = run_job(tmp_path, tmp_path / "unused", 1, **overrides)

    processed = read_processed(paths.processed, ["tx_id"]).column("tx_id").to_pylist()
    dlq = read_json_lines(paths.dlq)
    # Only what was put after the start time, exactly as the offline replay sees it.
    offline = replay(iter(valid[100:]), Components(load_config(overrides)))
    assert sorted(processed) == sorted(s.view.event.tx.tx_id for s in offline.scored)
    expected_reasons = [r.reason for _, r in offline.rejections] + ["not_utf8", "oversize_record"]
    assert sorted(r["reason"] for r in dlq) == sorted(expected_reasons)
    assert all(r["source"] == f"kinesis:{stack.MOTO_ENDPOINT}/{stream}" for r in dlq)


def test_a_missing_kinesis_stream_fails_the_job_with_a_clear_error(local_stack, tmp_path):
    import subprocess
    import sys

    from pipeline.config import PROJECT_ROOT

    missing = f"no-such-stream-{uuid.uuid4().hex[:8]}"
    args = [sys.executable, "-m", "pipeline", "run"]
    for key, value in {
        "source.kind": "kinesis",
        "source.format": "jsonl",
        "source.kinesis_stream": missing,
        "source.kinesis_endpoint": stack.MOTO_ENDPOINT,
        "sink.output_dir": str(tmp_path / "lake"),
        "flink.checkpoint_dir": str(tmp_path / "checkpoints"),
        "flink.log_dir": str(tmp_path / "logs"),
    }.items():
        args += ["--set", f"{key}={value}"]
    # Unbounded: without the error the job would run forever, and the timeout would fail.
    proc = subprocess.run(args, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert f"cannot list the shards of kinesis:{stack.MOTO_ENDPOINT}/{missing}" in (
        proc.stdout + proc.stderr
    )
