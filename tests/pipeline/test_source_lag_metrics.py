"""The sources' backlog reaches the Prometheus scrape of a running job on the local stack: the
Kinesis source's millisBehindLatest gauge per shard (our own Java source) and the Kafka
source's records-lag-max / pendingRecords; the lag alarms read them from the scrape."""

from __future__ import annotations

import dataclasses
import time

import pytest

from pipeline import stack
from pipeline.alarms import Evaluator, observe
from pipeline.config import load_config
from pipeline.prometheus import find_endpoints, kinesis_lag_by_shard, scrape_all, summarize
from tests.jobs import kill_job, start_job
from tests.kafka_topics import unique_topic
from tests.pipeline.test_job_kafka import produce
from tests.pipeline.test_job_kafka_kinesis import fresh_stream as fresh_stream  # the fixture
from tests.pipeline.test_job_kafka_kinesis import generated, put_kinesis

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]

PORTS = "9230-9239"  # apart from local runs (9250-9259), the cluster's and the reporter test's
G = "kinesisanalytics"
KAFKA_LAG = ("KafkaSourceReader_KafkaConsumer_records_lag_max", "pendingRecords")


def test_running_job_exports_kinesis_millis_behind_latest_per_shard_and_kafka_lag(
    local_stack, fresh_stream, tmp_path
):
    lines, _, wallets = generated(tmp_path, 2_400, seed=21)
    stream, topic = fresh_stream(shards=2), unique_topic("transactions-lag")
    produce(local_stack, topic, lines[:400])
    # Kinesis records put over ~4 s, read 10 per GetRecords every 200 ms per shard: the job
    # trails the newest record by up to ~4 s for a while (moto computes MillisBehindLatest
    # from the records' arrival times, as Kinesis does).
    kinesis_lines = lines[400:]
    started = time.monotonic()
    for i in range(8):
        put_kinesis(stream, kinesis_lines[i * 250 : (i + 1) * 250])
        time.sleep(0.5)
    put_span_ms = (time.monotonic() - started) * 1000

    overrides = {
        "source.kind": "kafka+kinesis",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": local_stack,
        "source.kafka_topic": topic,
        "source.kinesis_stream": stream,
        "source.kinesis_endpoint": stack.MOTO_ENDPOINT,
        "source.kinesis_poll_interval_ms": "200",
        "source.kinesis_max_records_per_poll": "10",
        "reference.wallets_file": str(wallets),
        "metrics.prometheus_ports": PORTS,
        "sink.output_dir": str(tmp_path / "lake"),
        "flink.checkpoint_dir": str(tmp_path / "checkpoints"),
        "flink.log_dir": str(tmp_path / "logs"),
    }
    job = start_job(tmp_path, 1, **overrides)
    scrapes: list[dict[str, float]] = []
    try:
        deadline = time.monotonic() + 240
        while True:
            assert job.poll() is None, "the job exited"
            assert time.monotonic() < deadline, f"no caught-up lag gauges; last: {scrapes[-1:]}"
            urls = find_endpoints(PORTS, timeout_s=0.5)
            summary = summarize(scrape_all(urls), G) if urls else {}
            shards = kinesis_lag_by_shard(summary, G)
            if shards:
                scrapes.append(summary)
                if len(shards) == 2 and not any(shards.values()) and _max_lag(scrapes) > 0:
                    break  # both shards seen behind, then caught up
            time.sleep(0.3)
    finally:
        kill_job(job)

    per_shard = [kinesis_lag_by_shard(s, G) for s in scrapes]
    shard_ids = {shard for lags in per_shard for shard in lags}
    assert len(shard_ids) == 2 and all(s.startswith("shardId") for s in shard_ids), shard_ids
    worst = _max_lag(scrapes)
    # behind by some of the put span, never by more than it (plus moto's clock rounding)
    assert 0 < worst <= put_span_ms + 1_000, (worst, put_span_ms)
    assert any(k in s for s in scrapes for k in KAFKA_LAG), "no Kafka lag metric in the scrape"

    # The kinesis-lag alarm fires on the scrape where the job was furthest behind.
    alarms = dataclasses.replace(
        load_config(environ={}).alarms, max_millis_behind_latest_ms=int(worst) - 1
    )
    furthest = max(scrapes, key=lambda s: max(kinesis_lag_by_shard(s, G).values()))
    fired = [n.alarm for n in Evaluator(alarms).evaluate(observe(furthest, G, 0))]
    assert "kinesis-lag" in fired


def _max_lag(scrapes: list[dict[str, float]]) -> float:
    return max((max(kinesis_lag_by_shard(s, G).values(), default=0) for s in scrapes), default=0)
