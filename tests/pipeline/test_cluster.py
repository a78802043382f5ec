"""The local standalone cluster (python -m pipeline.cluster): the job submitted to it reads a
Kafka topic of the local stack and keeps running; the REST API shows it RUNNING with
completed checkpoints and the named operators; the Prometheus reporter shows the pipeline's
metrics and Kafka's consumer lag; `down` leaves no process or port behind."""

from __future__ import annotations

import json
import time

import pytest

from pipeline import cluster
from pipeline.config import load_config
from pipeline.prometheus import find_endpoints, labelled, metric, scrape_all, summarize
from tests.kafka_topics import unique_topic

pytestmark = [pytest.mark.cluster, pytest.mark.stack]

EVENTS = 2_000


def _produce(bootstrap: str, topic: str, events: int) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from pipeline.producers import generated_lines

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for line in generated_lines(events, seed=5):
        # Keyed by wallet like the project's producer, so each wallet's events stay in order
        # (unkeyed, they interleave across partitions and arrive later than the lateness).
        producer.produce(topic, key=_wallet_of(line), value=line.encode())
    assert producer.flush(30) == 0


def _wallet_of(line: str) -> bytes | None:
    try:
        wallet = json.loads(line).get("wallet_id")
    except (ValueError, AttributeError):
        return None
    return wallet.encode() if isinstance(wallet, str) else None


def _until(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(2)
    pytest.fail(f"{what} within {timeout_s:.0f} s (last: {last!r})")


def test_job_on_the_standalone_cluster_runs_checkpoints_and_reports_metrics(local_stack, tmp_path):
    topic = unique_topic("monitor-cluster")
    job_settings = [
        "source.kind=kafka",
        "source.format=jsonl",
        f"source.kafka_topic={topic}",
        f"source.kafka_group_id={topic}",
        f"sink.output_dir={tmp_path / 'lake'}",
        f"flink.checkpoint_dir={tmp_path / 'checkpoints'}",
        "flink.checkpoint_interval_ms=2000",
    ]
    cfg = load_config(dict(kv.split("=", 1) for kv in [f"cluster.dir={tmp_path / 'c'}"]))
    assert not cluster.is_up(cfg), "a cluster already answers on the REST port"
    _produce(local_stack, topic, EVENTS)

    try:
        cluster.up(cfg)
        job_id = cluster.submit(cfg, job_settings)
        cluster.wait_for_job(cfg, job_id, "RUNNING", timeout_s=120)

        counts = _until(
            lambda: (
                (c := cluster.rest(cfg, f"/jobs/{job_id}/checkpoints")["counts"])["completed"] > 0
                and c
            ),
            150,
            "no checkpoint completed",
        )
        assert counts["completed"] > 0

        plan = cluster.rest(cfg, f"/jobs/{job_id}/plan")["plan"]["nodes"]
        described = " ".join(node["description"] for node in plan)
        names = ("transactions-kafka", "shard-batcher", "wallet-risk", "alerts-sink", "dlq-sink")
        for name in names:
            assert name in described, name

        group = cfg.metrics.group

        def all_events_counted():
            summary = summarize(scrape_all(find_endpoints(cfg.cluster.prometheus_ports)), group)
            return metric(summary, group, "events_in") == EVENTS and summary

        summary = _until(all_events_counted, 120, "the events_in metric did not reach EVENTS")
        valid = metric(summary, group, "valid")
        invalid = sum(labelled(summary, group, "invalid", "reason").values())
        assert valid + invalid + metric(summary, group, "duplicates") == EVENTS
        assert valid > 0.9 * EVENTS
        # Kafka's own consumer metrics reach the reporter (the lag alarm reads this one).
        assert "KafkaSourceReader_KafkaConsumer_records_lag_max" in summary
        assert cluster.rest(cfg, f"/jobs/{job_id}")["state"] == "RUNNING"  # keeps running
    finally:
        cluster.down(cfg)

    assert cluster.pids(cfg) == []
    assert not cluster.is_up(cfg)
