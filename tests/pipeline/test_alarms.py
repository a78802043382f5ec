"""Pipeline alarms: evaluation on observations with explicit times (pure), SNS publication
against the local stack's moto server (read back through an SNS→SQS subscription), and the
CloudWatch alarm definitions created in moto's CloudWatch."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest

from pipeline.alarms import (
    Evaluator,
    Observation,
    SnsPublisher,
    cloudformation_template,
    cloudwatch_alarms,
    observe,
    put_cloudwatch_alarms,
)
from pipeline.config import load_config
from pipeline.prometheus import parse, summarize

S = 1_000


def _cfg(**overrides):
    alarms = load_config(environ={}).alarms
    return dataclasses.replace(
        alarms,
        stall_after_ms=30 * S,
        rate_limit_ms=300 * S,
        error_rate_min_events=100,
        max_error_rate=0.05,
        alert_spike_factor=3.0,
        alert_spike_min_alerts=20,
        ewma_alpha=0.5,
        max_consumer_lag_records=1_000,
        max_millis_behind_latest_ms=60 * S,
        **overrides,
    )


def _fired(evaluator: Evaluator, *observations: Observation) -> list[str]:
    return [n.alarm for obs in observations for n in evaluator.evaluate(obs)]


# ---------------------------------------------------------------- evaluation (pure)


def test_stall_fires_once_per_episode_and_a_repeat_within_the_rate_limit_is_suppressed():
    ev = Evaluator(_cfg())
    assert _fired(ev, Observation(0, 100), Observation(10 * S, 200)) == []
    # flat from 10 s: fires at 40 s, stays quiet while the stall lasts
    assert _fired(ev, Observation(25 * S, 200), Observation(40 * S, 200)) == ["ingestion-stall"]
    assert _fired(ev, Observation(55 * S, 200), Observation(70 * S, 200)) == []
    # recovers, stalls again 2 minutes later: within the 5-minute rate limit, not sent
    assert _fired(ev, Observation(85 * S, 300)) == []
    assert _fired(ev, Observation(120 * S, 300)) == []
    assert ev.suppressed == 1
    # after the rate-limit window a new episode is sent again
    assert _fired(ev, Observation(400 * S, 400), Observation(431 * S, 400)) == ["ingestion-stall"]


def test_no_reporter_answering_counts_as_a_stall():
    ev = Evaluator(_cfg())
    assert _fired(ev, Observation(0, None), Observation(31 * S, None)) == ["ingestion-stall"]


def test_error_rate_needs_both_the_share_and_enough_events():
    ev = Evaluator(_cfg())
    # 30 invalid of 50 events: a high share, but under error_rate_min_events
    assert _fired(ev, Observation(0, 1_000, dlq=10), Observation(10 * S, 1_050, dlq=40)) == []
    # 20 invalid of the next 200 events (10 % > 5 %)
    assert _fired(ev, Observation(20 * S, 1_250, dlq=60)) == ["error-rate"]
    # 5 of 200 (2.5 %): back to OK
    assert _fired(ev, Observation(30 * S, 1_450, dlq=65)) == []
    assert not ev.states["error-rate"].active


def test_alert_spike_is_measured_against_the_moving_average():
    ev = Evaluator(_cfg())
    obs = [Observation(i * 10 * S, 1_000 * i, alerts=10 * i) for i in range(5)]  # 10 per interval
    assert _fired(ev, *obs) == []
    assert _fired(ev, Observation(50 * S, 5_000, alerts=40 + 25)) == []  # 25 < 3 × 10
    assert _fired(ev, Observation(60 * S, 6_000, alerts=65 + 80)) == ["alert-spike"]


def test_consumer_lag_alarm_reads_the_kafka_source_metric_from_a_scrape():
    text = (
        "flink_taskmanager_job_task_operator_KafkaSourceReader_KafkaConsumer_records_lag_max"
        '{job_id="j",subtask_index="0",} 5000.0\n'
        'flink_taskmanager_job_task_operator_kinesisanalytics_events_in{job_id="j",} 10.0\n'
        'flink_taskmanager_job_task_operator_kinesisanalytics_dlq_records{job_id="j",} 1.0\n'
    )
    obs = observe(summarize(parse(text), "kinesisanalytics"), "kinesisanalytics", 0)
    assert (obs.events_in, obs.dlq, obs.consumer_lag) == (10, 1, 5000)
    assert _fired(Evaluator(_cfg()), obs) == ["consumer-lag"]


def test_kinesis_lag_alarm_takes_the_largest_shard_gauge_from_a_scrape():
    name = "flink_taskmanager_job_task_operator_kinesisanalytics_shard_id_millisBehindLatest"
    text = (
        f'{name}{{job_id="j",shard_id="shardId-000000000000",subtask_index="0",}} 75000.0\n'
        f'{name}{{job_id="j",shard_id="shardId-000000000001",subtask_index="1",}} 20.0\n'
        'flink_taskmanager_job_task_operator_kinesisanalytics_events_in{job_id="j",} 10.0\n'
    )
    obs = observe(summarize(parse(text), "kinesisanalytics"), "kinesisanalytics", 0)
    assert obs.kinesis_lag_ms == 75_000 and obs.consumer_lag is None
    assert _fired(Evaluator(_cfg()), obs) == ["kinesis-lag"]
    caught_up = text.replace("75000.0", "59000.0")
    obs = observe(summarize(parse(caught_up), "kinesisanalytics"), "kinesisanalytics", 0)
    assert _fired(Evaluator(_cfg()), obs) == []


def test_cloudformation_template_holds_the_same_five_alarms():
    cfg = _cfg()
    template = cloudformation_template(cfg)
    names = sorted(r["Properties"]["AlarmName"] for r in template["Resources"].values())
    assert names == sorted(a["AlarmName"] for a in cloudwatch_alarms(cfg, "arn"))
    assert len(names) == 5


# ---------------------------------------------------------------- against moto (local stack)


@pytest.mark.stack
def test_a_stall_sends_one_sns_message_and_a_repeat_within_the_rate_limit_none(local_stack):
    cfg = _cfg(sns_topic=f"monitor-alarms-{uuid.uuid4().hex[:8]}")
    publisher = SnsPublisher(cfg)
    import boto3

    sqs = boto3.client("sqs", endpoint_url=cfg.aws_endpoint_url, region_name=cfg.aws_region)
    queue_url = sqs.create_queue(QueueName=cfg.sns_topic)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    publisher._sns.subscribe(TopicArn=publisher.topic_arn, Protocol="sqs", Endpoint=queue_arn)

    ev = Evaluator(cfg)
    timeline = [
        Observation(0, 100),
        Observation(40 * S, 100),  # stall → one message
        Observation(55 * S, 100),  # still stalled → nothing
        Observation(60 * S, 150),  # recovered
        Observation(100 * S, 150),  # stalled again within 5 min → suppressed
    ]
    for obs in timeline:
        for notification in ev.evaluate(obs):
            publisher(notification)

    messages = []
    for _ in range(3):  # drain: moto delivers synchronously, but read until empty
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages += got.get("Messages", [])
    bodies = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert [b["alarm"] for b in bodies] == ["ingestion-stall"]
    assert bodies[0]["dedup_id"] == "ingestion-stall-40000"
    assert "no new events for 40 s" in bodies[0]["reason"]


@pytest.mark.stack
def test_cloudwatch_alarms_are_created_for_the_sns_topic(local_stack):
    cfg = _cfg(
        sns_topic=f"monitor-alarms-{uuid.uuid4().hex[:8]}",
        application_name=f"fraud-{uuid.uuid4().hex[:6]}",
    )
    names = put_cloudwatch_alarms(cfg)
    import boto3

    cw = boto3.client("cloudwatch", endpoint_url=cfg.aws_endpoint_url, region_name=cfg.aws_region)
    found = cw.describe_alarms(AlarmNamePrefix=cfg.application_name)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in found) == sorted(names)
    suffixes = {a["AlarmName"][len(cfg.application_name) + 1 :] for a in found}
    assert suffixes == {
        "ingestion-stall",
        "consumer-lag",
        "kinesis-lag",
        "error-rate",
        "alert-spike",
    }
    topic_arn = SnsPublisher(cfg).topic_arn
    assert all(a["AlarmActions"] == [topic_arn] for a in found)


def test_committed_cloudformation_template_is_the_generated_one():
    from pipeline.config import PROJECT_ROOT

    committed = json.loads((PROJECT_ROOT / "deploy" / "cloudwatch-alarms.json").read_text())
    assert committed == cloudformation_template(load_config(environ={}).alarms), (
        "regenerate: python -m pipeline.alarms cloudformation > deploy/cloudwatch-alarms.json"
    )
