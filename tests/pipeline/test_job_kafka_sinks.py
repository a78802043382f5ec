"""Alerts and DLQ records to Kafka, exactly once: a job run with the transactional Kafka
sinks on leaves in each topic exactly the records the lake holds, as a read_committed
consumer sees them (counts and ids), alerts keyed by wallet."""

from __future__ import annotations

import base64
import uuid
from collections import Counter

import orjson
import pytest

from pipeline.components import Components
from pipeline.config import load_config
from pipeline.offline import iter_records, replay
from tests.jobs import assert_outputs_match_offline, run_job
from tests.kafka_topics import create_topic, read_committed
from tests.pipeline.test_job_kafka import produce

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]


def test_alerts_and_dlq_reach_their_topics_exactly_once_read_committed(local_stack, tmp_path):
    from datasets.generator import Config, generate_files

    source, labels, wallets = tmp_path / "tx.jsonl", tmp_path / "labels.csv", tmp_path / "w.csv"
    generate_files(Config(events=4_000, seed=31, fmt="jsonl"), source, labels, wallets)
    lines = [line.rstrip("\n") for line in iter_records(source)]
    run_id = uuid.uuid4().hex[:8]
    topic, alerts_topic, dlq_topic = (f"{n}-{run_id}" for n in ("tx", "alerts", "dlq"))
    produce(local_stack, topic, lines)
    create_topic(local_stack, alerts_topic, partitions=2)
    create_topic(local_stack, dlq_topic)
    overrides = {
        "source.kind": "kafka",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": local_stack,
        "source.kafka_topic": topic,
        "source.kafka_bounded": "true",
        "reference.wallets_file": str(wallets),
        "rules.enabled": "false",
        "sink.kafka_alerts_enabled": "true",
        "sink.kafka_dlq_enabled": "true",
        "sink.kafka_bootstrap_servers": local_stack,
        "sink.kafka_alerts_topic": alerts_topic,
        "sink.kafka_dlq_topic": dlq_topic,
        "sink.kafka_transactional_id_prefix": f"test-{run_id}",
    }
    paths = run_job(tmp_path, source, 1, **overrides)

    offline = replay(iter(lines), Components(load_config(overrides)))
    lake = assert_outputs_match_offline(paths, offline, labels)
    alerts = read_committed(local_stack, alerts_topic)
    alert_ids = Counter(orjson.loads(value)["alert_id"] for _, value in alerts)
    assert max(alert_ids.values()) == 1, "an alert was published twice"
    assert (
        set(alert_ids)
        == {a.alert_id for a in offline.alerts}
        == {a["alert_id"] for a in lake["alerts"]}
    )
    assert all(key == orjson.loads(value)["wallet_id"].encode() for key, value in alerts)
    dlq = [orjson.loads(value) for _, value in read_committed(local_stack, dlq_topic)]
    assert Counter(base64.b64decode(r["original"]) for r in dlq) == Counter(
        base64.b64decode(r["original"]) for r in lake["dlq"]
    )
    assert Counter(r["reason"] for r in dlq) == Counter(r["reason"] for r in lake["dlq"])
    assert len(dlq) == len(offline.rejections) > 0
