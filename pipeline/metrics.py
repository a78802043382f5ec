"""The job's own metrics, registered in Flink's metric groups (issue 7).

`PipelineMetrics` is created in a Flink function's `open()` from its runtime context and
told about every record with one call, `record(...)`, which only adds to Python integers.
Each metric is a Flink *gauge* over such a running total: Flink reads it when a reporter
or the web UI asks, so a record costs no call into the JVM (a Counter.inc from thread-mode
Python is one) and nothing waits for a flush when the stream goes quiet. The totals only
grow, like counters (Flink's Prometheus reporter exports counters as gauges anyway; use
`rate()` / CloudWatch RATE on them).

Every metric lives under the group `metrics.group` (default ``kinesisanalytics``: Managed
Service for Apache Flink exports only metrics under that group key to CloudWatch, and turns
the key/value groups below it into CloudWatch dimensions). Locally the Prometheus reporter
names them ``flink_taskmanager_job_task_operator_<group>[_<label key>]_<name>`` with one
label per key/value group (see `prometheus_name` and README "Monitoring").

| metric (Flink name) | labels | meaning |
|---|---|---|
| `events_in` | | records of the source seen by the function (mirrored copies excluded) |
| `valid` | | valid new transactions (processed rows) |
| `invalid` | `reason` | records sent to the DLQ, per reason code |
| `dlq_records` | | records sent to the DLQ (all reasons; for alarms without label sums) |
| `duplicates` | | exact resends dropped |
| `alerts` | `severity` | alerts raised, per severity |
| `alerts_raised` | | alerts raised (all severities) |
| `alerts_by_rule` | `rule` | alerts per rule id (an alert with two rules counts twice) |
| `score_bucket` | `le` | cumulative model-score histogram, `le` in percent (95 = ≤ 0.95) or `inf` |
| `scoring_latency_us_bucket` | `le` | cumulative processing-time histogram, `le` in µs or `inf` |
| `scoring_latency_us_sum` | | total per-record processing time, µs (mean = sum / valid) |
| `event_time_lag_ms` | | now − event_time of the latest valid event, at its processing |
| `last_event_time_ms` | | newest event time seen (epoch ms) |

Histograms are bucketed totals because PyFlink's Python `MetricGroup` has no histogram,
its `distribution` reaches Prometheus as one number, and CloudWatch takes no histograms.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

#: Upper bounds of the model-score buckets (a last `+Inf` bucket is implied).
SCORE_BUCKETS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
#: Upper bounds of the per-record processing-time buckets, microseconds.
LATENCY_BUCKETS_US: tuple[int, ...] = (25, 50, 100, 200, 500, 1_000, 5_000, 20_000)

#: How the local Prometheus reporter prefixes an operator-scoped metric of this module.
PROMETHEUS_PREFIX = "flink_taskmanager_job_task_operator_"


def prometheus_name(group: str, name: str, label_key: str | None = None) -> str:
    """The Prometheus sample name of metric `name` (with a key/value group `label_key`)."""
    parts = [group, label_key, name] if label_key else [group, name]
    return PROMETHEUS_PREFIX + "_".join(parts)


def _bound_label(bound: float) -> str:
    # Flink's Prometheus reporter rewrites "." and "+" in label values to "_", so bounds
    # are written as integers: score buckets in percent (95 = score ≤ 0.95), latency in
    # µs, and "inf" for the last bucket.
    if bound == float("inf"):
        return "inf"
    return str(round(bound * 100)) if bound < 1 else str(int(bound))


class PipelineMetrics:
    """Counts outcomes of the keyed function; Flink reads them through gauges.

    `group` is any `pyflink.metrics.MetricGroup` (the runtime context's group plus
    `metrics.group`). A gauge is registered the first time a key (a new reason, rule or
    severity) appears; after that a record only adds to Python integers.
    """

    def __init__(self, group: Any) -> None:
        self._group = group
        self._totals: dict[tuple[str, str | None, str | None], int] = {}
        self._score_counts = [0] * (len(SCORE_BUCKETS) + 1)
        self._latency_counts = [0] * (len(LATENCY_BUCKETS_US) + 1)
        self.event_time_lag_ms = 0
        self.last_event_time_ms = 0
        group.gauge("event_time_lag_ms", lambda: int(self.event_time_lag_ms))
        group.gauge("last_event_time_ms", lambda: int(self.last_event_time_ms))
        # Register the fixed totals up front so dashboards see zeros, not gaps.
        for name in (
            "events_in",
            "valid",
            "duplicates",
            "dlq_records",
            "alerts_raised",
            "scoring_latency_us_sum",
        ):
            self._register((name, None, None))
        self._register_buckets("score_bucket", SCORE_BUCKETS, self._score_counts)
        self._register_buckets(
            "scoring_latency_us_bucket", LATENCY_BUCKETS_US, self._latency_counts
        )

    @classmethod
    def from_runtime_context(cls, runtime_context, group_name: str) -> PipelineMetrics:
        """The metrics of one Flink function instance; call in `open()`."""
        return cls(runtime_context.get_metrics_group().add_group(group_name))

    def record(
        self,
        kind: str,
        now_ms: int,
        *,
        reason: str | None = None,
        event_time_ms: int | None = None,
        score: float | None = None,
        alert: Any = None,
        latency_us: int | None = None,
    ) -> None:
        """Count one record's outcome.

        `kind`: ``valid``, ``invalid`` (with `reason`), ``duplicate`` or ``mirrored`` (the
        receiver's copy of a transfer: not an input event). For ``valid`` pass the event
        time, the model score, the alert (or None) and the processing time in µs.
        """
        if kind == "mirrored":
            return
        totals = self._totals
        totals[_EVENTS_IN] += 1
        if kind == "valid":
            totals[_VALID] += 1
            if score is not None:
                self._score_counts[bisect_left(SCORE_BUCKETS, score)] += 1
            if latency_us is not None:
                self._latency_counts[bisect_left(LATENCY_BUCKETS_US, latency_us)] += 1
                totals[_LATENCY_SUM] += int(latency_us)
            if event_time_ms is not None:
                self.event_time_lag_ms = now_ms - event_time_ms
                if event_time_ms > self.last_event_time_ms:
                    self.last_event_time_ms = event_time_ms
            if alert is not None:
                totals[_ALERTS] += 1
                self._add(("alerts", "severity", alert.severity))
                for rule in alert.rule_ids:
                    self._add(("alerts_by_rule", "rule", rule))
        elif kind == "invalid":
            totals[_DLQ] += 1
            self._add(("invalid", "reason", reason or "unknown"))
        elif kind == "duplicate":
            totals[_DUPLICATES] += 1

    def total(self, name: str, label_value: str | None = None) -> int:
        """The running total of a metric (and label value), as the gauge reports it."""
        return sum(v for (n, _, lv), v in self._totals.items() if n == name and lv == label_value)

    def _add(self, key: tuple[str, str | None, str | None]) -> None:
        if key in self._totals:
            self._totals[key] += 1
        else:
            self._register(key)
            self._totals[key] = 1

    def _register(self, key: tuple[str, str | None, str | None]) -> None:
        self._totals.setdefault(key, 0)
        name, label_key, label_value = key
        group = self._group
        if label_key is not None:
            group = group.add_group(label_key, label_value)
        totals = self._totals
        group.gauge(name, lambda: totals[key])

    def _register_buckets(self, name: str, bounds, counts: list[int]) -> None:
        # Cumulative (Prometheus `le`) buckets: each gauge sums its own bucket and every
        # narrower one when read, so PromQL's histogram_quantile-style reading works.
        for i, bound in enumerate((*bounds, float("inf"))):
            group = self._group.add_group("le", _bound_label(bound))
            group.gauge(name, lambda i=i: sum(counts[: i + 1]))


_EVENTS_IN = ("events_in", None, None)
_VALID = ("valid", None, None)
_DUPLICATES = ("duplicates", None, None)
_DLQ = ("dlq_records", None, None)
_ALERTS = ("alerts_raised", None, None)
_LATENCY_SUM = ("scoring_latency_us_sum", None, None)
