"""Pipeline alarms: evaluated locally from scraped Prometheus metrics and published to SNS,
and the same alarms for AWS as CloudWatch alarm definitions.

    python -m pipeline.alarms watch [--ports 9260-9269] [--once]   # evaluate, publish to SNS
    python -m pipeline.alarms cloudwatch [--dry-run]   # put_metric_alarm for each alarm
    python -m pipeline.alarms cloudformation           # the same alarms as a CFN template

Five alarms (thresholds: `[alarms]` in flink-conf/pipeline.toml):

* `ingestion-stall` — `events_in` has not grown for `stall_after_ms` (or no reporter answers);
* `consumer-lag` — the Kafka source's `records-lag-max` (or the source's `pendingRecords`)
  is above `max_consumer_lag_records`;
* `kinesis-lag` — the largest `millisBehindLatest` of the Kinesis source's shards (a gauge per
  shard, `src/main/java/.../ShardLagGauges.java`) is above `max_millis_behind_latest_ms`;
* `error-rate` — DLQ records / events over one evaluation interval above `max_error_rate`
  (with at least `error_rate_min_events` events);
* `alert-spike` — alerts in one interval above `alert_spike_factor` × their moving average
  (EWMA, weight `ewma_alpha`) and at least `alert_spike_min_alerts`.

An alarm publishes when it goes from OK to ALARM (deduplicated: staying in ALARM sends
nothing more) and at most once per `rate_limit_ms` (an alarm that flaps is sent once).
Each message carries a stable `dedup_id` (alarm + first firing) for receivers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import AlarmsConfig, PipelineConfig, load_config
from .prometheus import (
    KINESIS_LAG_METRIC,
    KINESIS_SHARD_LABEL,
    find_endpoints,
    kinesis_lag_by_shard,
    labelled,
    metric,
    scrape_all,
    summarize,
)

ALARMS = ("ingestion-stall", "consumer-lag", "kinesis-lag", "error-rate", "alert-spike")

#: The Kafka source's backlog in records, as `prometheus.summarize` keys it.
KAFKA_LAG_KEYS = ("KafkaSourceReader_KafkaConsumer_records_lag_max", "pendingRecords")


@dataclass(frozen=True, slots=True)
class Observation:
    """The metrics an evaluation needs, read at `ts_ms` (None: no reporter answered)."""

    ts_ms: int
    events_in: float | None
    dlq: float | None = None
    alerts: float | None = None
    consumer_lag: float | None = None
    kinesis_lag_ms: float | None = None


def observe(summary: dict[str, float], group: str, ts_ms: int) -> Observation:
    """An observation from a `prometheus.summarize` result ({} = nothing scraped)."""
    if not summary:
        return Observation(ts_ms, None)
    dlq = metric(summary, group, "dlq_records")
    if not dlq:  # a job built before dlq_records existed: sum the per-reason totals
        dlq = sum(labelled(summary, group, "invalid", "reason").values())
    lags = [summary[k] for k in KAFKA_LAG_KEYS if k in summary]
    shards = kinesis_lag_by_shard(summary, group)
    return Observation(
        ts_ms,
        metric(summary, group, "events_in"),
        dlq,
        metric(summary, group, "alerts_raised"),
        max(lags) if lags else None,
        max(shards.values()) if shards else None,
    )


@dataclass(frozen=True, slots=True)
class Notification:
    alarm: str
    subject: str
    message: str
    dedup_id: str
    ts_ms: int


@dataclass(slots=True)
class _AlarmState:
    active: bool = False
    since_ms: int = 0
    last_sent_ms: int | None = None


@dataclass
class Evaluator:
    """Evaluates observations in time order; returns the notifications to send."""

    cfg: AlarmsConfig
    states: dict[str, _AlarmState] = field(
        default_factory=lambda: {a: _AlarmState() for a in ALARMS}
    )
    _last: Observation | None = None
    _last_growth_ms: int | None = None
    _alerts_ewma: float | None = None
    suppressed: int = 0

    def evaluate(self, obs: Observation) -> list[Notification]:
        c = self.cfg
        firing: dict[str, str | None] = dict.fromkeys(ALARMS)
        prev = self._last
        if self._last_growth_ms is None:
            self._last_growth_ms = obs.ts_ms
        if obs.events_in is not None and (
            prev is None or prev.events_in is None or obs.events_in != prev.events_in
        ):
            self._last_growth_ms = obs.ts_ms
        idle_ms = obs.ts_ms - self._last_growth_ms
        if idle_ms >= c.stall_after_ms:
            why = "no metrics reporter answers" if obs.events_in is None else "events_in flat"
            firing["ingestion-stall"] = f"no new events for {idle_ms / 1000:.0f} s ({why})"

        if obs.consumer_lag is not None and obs.consumer_lag > c.max_consumer_lag_records:
            firing["consumer-lag"] = (
                f"consumer lag {obs.consumer_lag:,.0f} records > {c.max_consumer_lag_records:,}"
            )

        if obs.kinesis_lag_ms is not None and obs.kinesis_lag_ms > c.max_millis_behind_latest_ms:
            firing["kinesis-lag"] = (
                f"a Kinesis shard is {obs.kinesis_lag_ms / 1000:,.0f} s behind the stream's tip "
                f"> {c.max_millis_behind_latest_ms / 1000:,.0f} s"
            )

        if prev is not None and obs.events_in is not None and prev.events_in is not None:
            events = _delta(prev.events_in, obs.events_in)
            dlq = _delta(prev.dlq or 0, obs.dlq or 0)
            if events >= c.error_rate_min_events and dlq / events > c.max_error_rate:
                firing["error-rate"] = (
                    f"{dlq:,.0f} of {events:,.0f} events invalid ({dlq / events:.1%}) "
                    f"> {c.max_error_rate:.1%}"
                )
            alerts = _delta(prev.alerts or 0, obs.alerts or 0)
            baseline = self._alerts_ewma
            if (
                baseline is not None
                and alerts >= c.alert_spike_min_alerts
                and alerts > c.alert_spike_factor * baseline
            ):
                firing["alert-spike"] = (
                    f"{alerts:,.0f} alerts in the last interval vs a moving average of "
                    f"{baseline:,.1f} (× {c.alert_spike_factor:g})"
                )
            a = c.ewma_alpha
            self._alerts_ewma = alerts if baseline is None else a * alerts + (1 - a) * baseline
        if obs.events_in is not None:
            self._last = obs
        return [n for alarm, why in firing.items() if (n := self._transition(alarm, why, obs))]

    def _transition(self, alarm: str, why: str | None, obs: Observation) -> Notification | None:
        st = self.states[alarm]
        if why is None:
            st.active = False
            return None
        if st.active:
            return None  # still the same episode: deduplicated
        st.active, st.since_ms = True, obs.ts_ms
        if st.last_sent_ms is not None and obs.ts_ms - st.last_sent_ms < self.cfg.rate_limit_ms:
            self.suppressed += 1
            return None
        st.last_sent_ms = obs.ts_ms
        subject = f"[{self.cfg.application_name}] ALARM {alarm}"
        return Notification(alarm, subject, why, f"{alarm}-{obs.ts_ms}", obs.ts_ms)


def _delta(before: float, after: float) -> float:
    """Growth of a running total; a smaller value means the job restarted from zero."""
    return after - before if after >= before else after


def aws_client(service: str, cfg: AlarmsConfig):
    import boto3

    kwargs = {"region_name": cfg.aws_region}
    if cfg.aws_endpoint_url:
        kwargs["endpoint_url"] = cfg.aws_endpoint_url
        if "127.0.0.1" in cfg.aws_endpoint_url or "localhost" in cfg.aws_endpoint_url:
            from .stack import local_aws_env

            local_aws_env()  # dummy credentials for the local moto server only (where unset)
    return boto3.client(service, **kwargs)


def ensure_topic(cfg: AlarmsConfig, sns=None) -> str:
    """The SNS topic's ARN (created if missing; CreateTopic is idempotent)."""
    sns = sns or aws_client("sns", cfg)
    return sns.create_topic(Name=cfg.sns_topic)["TopicArn"]


class SnsPublisher:
    def __init__(self, cfg: AlarmsConfig, topic_arn: str | None = None) -> None:
        self._sns = aws_client("sns", cfg)
        self.topic_arn = topic_arn or ensure_topic(cfg, self._sns)

    def __call__(self, n: Notification) -> None:
        body = {
            "alarm": n.alarm,
            "state": "ALARM",
            "reason": n.message,
            "dedup_id": n.dedup_id,
            "ts_ms": n.ts_ms,
        }
        self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=n.subject[:100],
            Message=json.dumps(body),
            MessageAttributes={
                "alarm": {"DataType": "String", "StringValue": n.alarm},
                "dedup_id": {"DataType": "String", "StringValue": n.dedup_id},
            },
        )


def watch(
    cfg: PipelineConfig,
    ports: str,
    publish: Callable[[Notification], None],
    once: bool = False,
    max_evaluations: int | None = None,
) -> Evaluator:
    """Scrape, evaluate, publish; every `alarms.evaluation_interval_ms` until interrupted."""
    evaluator = Evaluator(cfg.alarms)
    interval_s = cfg.alarms.evaluation_interval_ms / 1000
    n = 0
    while True:
        started = time.monotonic()
        urls = [cfg.alarms.prometheus_url] if cfg.alarms.prometheus_url else find_endpoints(ports)
        summary = summarize(scrape_all(urls), cfg.metrics.group) if urls else {}
        obs = observe(summary, cfg.metrics.group, time.time_ns() // 1_000_000)
        for notification in evaluator.evaluate(obs):
            print(f"ALARM {notification.alarm}: {notification.message}", flush=True)
            try:
                publish(notification)
            except Exception as exc:  # an SNS outage must not stop the evaluation
                print(f"could not publish {notification.alarm}: {exc}", file=sys.stderr)
        n += 1
        if once or (max_evaluations is not None and n >= max_evaluations):
            return evaluator
        time.sleep(max(0.0, interval_s - (time.monotonic() - started)))


# ---------------------------------------------------------------- CloudWatch (AWS)


def cloudwatch_alarms(cfg: AlarmsConfig, topic_arn: str) -> list[dict]:
    """put_metric_alarm arguments of the five alarms for Managed Service for Apache Flink.

    Names: MSF publishes its own metrics and the job's `kinesisanalytics` group metrics in
    the namespace AWS/KinesisAnalytics with the dimension Application (custom metrics at
    Application level by default; Task/Operator dimensions are added at higher monitoring
    levels). Our totals are gauges, so rates come from metric math: DIFF over a period.
    """
    app = [{"Name": "Application", "Value": cfg.application_name}]
    ns = cfg.cloudwatch_namespace
    period = 60
    stall_periods = max(1, -(-cfg.stall_after_ms // (period * 1000)))

    def stat(metric_id: str, name: str, statistic: str = "Maximum") -> dict:
        return {
            "Id": metric_id,
            "MetricStat": {
                "Metric": {"Namespace": ns, "MetricName": name, "Dimensions": app},
                "Period": period,
                "Stat": statistic,
            },
            "ReturnData": False,
        }

    common = {
        "AlarmActions": [topic_arn],
        "OKActions": [topic_arn],
        "ActionsEnabled": True,
    }
    return [
        {
            **common,
            "AlarmName": f"{cfg.application_name}-ingestion-stall",
            "AlarmDescription": f"no new events for {cfg.stall_after_ms // 1000} s",
            "Metrics": [
                stat("events", "events_in"),
                {"Id": "growth", "Expression": "DIFF(events)", "ReturnData": True},
            ],
            "ComparisonOperator": "LessThanOrEqualToThreshold",
            "Threshold": 0.0,
            "EvaluationPeriods": stall_periods,
            "DatapointsToAlarm": stall_periods,
            # No data at all (job down, nothing reported) is a stall too.
            "TreatMissingData": "breaching",
        },
        {
            **common,
            "AlarmName": f"{cfg.application_name}-consumer-lag",
            "AlarmDescription": (
                f"Kafka records-lag-max above {cfg.max_consumer_lag_records:,} records"
            ),
            "Namespace": ns,
            "MetricName": "records_lag_max",
            "Dimensions": app,
            "Statistic": "Maximum",
            "Period": period,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
            "Threshold": float(cfg.max_consumer_lag_records),
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
        {
            **common,
            "AlarmName": f"{cfg.application_name}-kinesis-lag",
            "AlarmDescription": (
                "a Kinesis shard's millisBehindLatest above "
                f"{cfg.max_millis_behind_latest_ms // 1000:,} s"
            ),
            # One gauge per shard (dimension shard_id besides Application): a Metrics
            # Insights query takes the largest of them, however many shards there are.
            "Metrics": [
                {
                    "Id": "lag",
                    "Expression": (
                        f'SELECT MAX({KINESIS_LAG_METRIC}) FROM SCHEMA("{ns}", Application, '
                        f"{KINESIS_SHARD_LABEL}) WHERE Application = '{cfg.application_name}'"
                    ),
                    "Period": period,
                    "ReturnData": True,
                }
            ],
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 3,
            "Threshold": float(cfg.max_millis_behind_latest_ms),
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
        {
            **common,
            "AlarmName": f"{cfg.application_name}-error-rate",
            "AlarmDescription": f"DLQ share of events above {cfg.max_error_rate:.1%}",
            "Metrics": [
                stat("dlq", "dlq_records"),
                stat("events", "events_in"),
                {
                    "Id": "rate",
                    "Expression": (
                        f"IF(DIFF(events) >= {cfg.error_rate_min_events}, "
                        "DIFF(dlq) / DIFF(events), 0)"
                    ),
                    "ReturnData": True,
                },
            ],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": cfg.max_error_rate,
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
        },
        {
            **common,
            "AlarmName": f"{cfg.application_name}-alert-spike",
            "AlarmDescription": (
                "alerts per minute above the anomaly-detection band (the AWS counterpart "
                "of the local EWMA baseline)"
            ),
            "Metrics": [
                stat("alerts_total", "alerts_raised"),
                {"Id": "alerts", "Expression": "DIFF(alerts_total)", "ReturnData": True},
                {
                    "Id": "band",
                    "Expression": f"ANOMALY_DETECTION_BAND(alerts, {cfg.alert_spike_factor:g})",
                    "ReturnData": True,
                },
            ],
            "ThresholdMetricId": "band",
            "ComparisonOperator": "GreaterThanUpperThreshold",
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            "TreatMissingData": "notBreaching",
        },
    ]


def put_cloudwatch_alarms(cfg: AlarmsConfig) -> list[str]:
    """Create (or update) the CloudWatch alarms; returns their names."""
    topic_arn = ensure_topic(cfg)
    cw = aws_client("cloudwatch", cfg)
    names = []
    for alarm in cloudwatch_alarms(cfg, topic_arn):
        cw.put_metric_alarm(**alarm)
        names.append(alarm["AlarmName"])
    return names


def cloudformation_template(cfg: AlarmsConfig) -> dict:
    """The same alarms as a CloudFormation template (topic ARN as a parameter)."""
    resources = {}
    for alarm in cloudwatch_alarms(cfg, "__TOPIC__"):
        props = {k: v for k, v in alarm.items()}
        props["AlarmActions"] = [{"Ref": "AlarmTopicArn"}]
        props["OKActions"] = [{"Ref": "AlarmTopicArn"}]
        logical = "".join(p.title() for p in alarm["AlarmName"].split("-")[-2:]) + "Alarm"
        resources[logical] = {"Type": "AWS::CloudWatch::Alarm", "Properties": props}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"Pipeline alarms of {cfg.application_name} (generated by python -m pipeline.alarms "
            "cloudformation from flink-conf/pipeline.toml [alarms])"
        ),
        "Parameters": {"AlarmTopicArn": {"Type": "String", "Description": "SNS topic ARN"}},
        "Resources": resources,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.alarms", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("watch", help="evaluate the alarms on scraped metrics; publish to SNS")
    w.add_argument("--ports", help="reporter port range (default metrics.prometheus_ports)")
    w.add_argument("--once", action="store_true", help="evaluate once and exit")
    cw = sub.add_parser("cloudwatch", help="create the alarms in CloudWatch (put_metric_alarm)")
    cw.add_argument("--dry-run", action="store_true", help="print the definitions only")
    sub.add_parser("cloudformation", help="print the alarms as a CloudFormation template")
    for p in (w, cw):
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    cfg = load_config(dict(kv.split("=", 1) for kv in getattr(args, "set", [])))
    if args.command == "watch":
        publisher = SnsPublisher(cfg.alarms)
        print(f"publishing to {publisher.topic_arn}", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            watch(cfg, args.ports or cfg.metrics.prometheus_ports, publisher, once=args.once)
        return 0
    if args.command == "cloudformation":
        print(json.dumps(cloudformation_template(cfg.alarms), indent=2))
        return 0
    if args.dry_run:
        print(json.dumps(cloudwatch_alarms(cfg.alarms, "<topic-arn>"), indent=2))
        return 0
    for name in put_cloudwatch_alarms(cfg.alarms):
        print(f"put alarm {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
