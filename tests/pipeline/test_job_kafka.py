"""The job reading a Kafka topic of the local stack (a bounded run from the earliest offsets)."""

from __future__ import annotations

import json

import pytest

from pipeline.components import Components
from pipeline.config import load_config
from pipeline.offline import iter_records, replay
from pipeline.summary import read_json_lines
from tests.jobs import assert_outputs_match_offline, run_job
from tests.kafka_topics import create_topic, unique_topic

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]


def produce(bootstrap: str, topic: str, lines: list[str]) -> None:
    """One partition keeps the file's order, so the offline replay is the exact oracle."""
    from confluent_kafka import Producer

    create_topic(bootstrap, topic)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for line in lines:
        try:
            key = json.loads(line).get("wallet_id")
        except ValueError:
            key = None
        producer.produce(topic, value=line.encode(), key=str(key).encode() if key else None)
    assert producer.flush(30) == 0


def test_job_processes_a_kafka_topic_exactly_once(local_stack, tmp_path):
    from datasets.generator import Config, generate_files

    source, labels, wallets = tmp_path / "tx.jsonl", tmp_path / "labels.csv", tmp_path / "w.csv"
    generate_files(Config(events=3_000, seed=9, fmt="jsonl"), source, labels, wallets)
    lines = [line.rstrip("\n") for line in iter_records(source)]
    topic = unique_topic("transactions-test")
    produce(local_stack, topic, lines)

    overrides = {
        "source.kind": "kafka",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": local_stack,
        "source.kafka_topic": topic,
        "source.kafka_bounded": "true",
        "reference.wallets_file": str(wallets),
    }
    paths = run_job(tmp_path, source, 1, **overrides)

    offline = replay(iter(lines), Components(load_config(overrides)))
    outputs = assert_outputs_match_offline(paths, offline, labels)
    processed, dlq = outputs["processed"], outputs["dlq"]
    assert all(r["source"] == f"kafka:{local_stack}/{topic}" for r in dlq)
    duplicates = read_json_lines(paths.duplicates)
    assert len(processed) + len(dlq) + len(duplicates) == len(lines)
