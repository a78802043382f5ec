"""The job's own metrics, registered in Flink's metric groups (issue 7).

`PipelineMetrics` is created in a Flink function's `open()` from its runtime context and
told about every record with one call, `record(...)`. It counts in plain Python and adds
the counts to the Flink counters once per `metrics.flush_interval_ms` (and on `flush()`):
a Flink counter update from thread-mode Python is a call into the JVM, too dear per record.

Every metric lives under the group `metrics.group` (default ``kinesisanalytics``: Managed
Service for Apache Flink exports only metrics under that group key to CloudWatch, and turns
the key/value groups below it into CloudWatch dimensions). Locally the Prometheus reporter
names them ``flink_taskmanager_job_task_operator_<group>_<name>`` with one label per
key/value group (see `PROMETHEUS_PREFIX` and README "Monitoring").

| metric (Flink name) | type | labels | meaning |
|---|---|---|---|
| `events_in` | counter | | records of the source seen by the function (mirrored copies excluded) |
| `valid` | counter | | valid new transactions (processed rows) |
| `invalid` | counter | `reason` | records sent to the DLQ, per reason code |
| `duplicates` | counter | | exact resends dropped |
| `alerts` | counter | `severity` | alerts raised, per severity |
| `alerts_by_rule` | counter | `rule` | alerts per rule id (an alert with two rules counts twice) |
| `score_bucket` | counter | `le` | cumulative model-score histogram, `le` in percent or `inf` |
| `scoring_latency_us_bucket` | counter | `le` | cumulative processing-time histogram, `le` in µs |
| `scoring_latency_us_sum` | counter | | total per-record processing time, µs (mean = sum / valid) |
| `event_time_lag_ms` | gauge | | largest now − event_time over the last flush interval |
| `last_event_time_ms` | gauge | | newest event time seen (epoch ms) |

Histograms are bucketed counters because PyFlink's Python `MetricGroup` has no histogram,
its `distribution` reaches Prometheus as one number, and CloudWatch takes no histograms.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable
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
    """Counts outcomes of the keyed function and publishes them to Flink metric groups.

    `group` is any `pyflink.metrics.MetricGroup` (the runtime context's group plus
    `metrics.group`). Nothing is registered per record except the first time a new
    reason, rule or severity appears.
    """

    def __init__(
        self,
        group: Any,
        flush_interval_ms: int = 1_000,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._group = group
        self._flush_interval_ms = flush_interval_ms
        self._clock_ms = clock_ms
        self._next_flush_ms = 0
        self._counters: dict[tuple[str, str | None, str | None], Any] = {}
        # pending increments, keyed like _counters: (name, label key, label value)
        self._pending: dict[tuple[str, str | None, str | None], int] = {}
        self._score_counts = [0] * (len(SCORE_BUCKETS) + 1)
        self._latency_counts = [0] * (len(LATENCY_BUCKETS_US) + 1)
        self._lag_window_max_ms = 0
        self.event_time_lag_ms = 0
        self.last_event_time_ms = 0
        group.gauge("event_time_lag_ms", lambda: int(self.event_time_lag_ms))
        group.gauge("last_event_time_ms", lambda: int(self.last_event_time_ms))
        # Register the fixed counters up front so dashboards see zeros, not gaps.
        for name in ("events_in", "valid", "duplicates", "scoring_latency_us_sum"):
            self._counter((name, None, None))
        for bound in (*SCORE_BUCKETS, float("inf")):
            self._counter(("score_bucket", "le", _bound_label(bound)))
        for bound in (*LATENCY_BUCKETS_US, float("inf")):
            self._counter(("scoring_latency_us_bucket", "le", _bound_label(bound)))

    @classmethod
    def from_runtime_context(cls, runtime_context, group_name: str, flush_interval_ms: int):
        """The metrics of one Flink function instance; call in `open()`."""
        group = runtime_context.get_metrics_group().add_group(group_name)
        return cls(group, flush_interval_ms)

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
        pending = self._pending
        if kind != "mirrored":
            key = ("events_in", None, None)
            pending[key] = pending.get(key, 0) + 1
        if kind == "valid":
            key = ("valid", None, None)
            pending[key] = pending.get(key, 0) + 1
            if score is not None:
                self._score_counts[bisect_left(SCORE_BUCKETS, score)] += 1
            if latency_us is not None:
                self._latency_counts[bisect_left(LATENCY_BUCKETS_US, latency_us)] += 1
                key = ("scoring_latency_us_sum", None, None)
                pending[key] = pending.get(key, 0) + int(latency_us)
            if event_time_ms is not None:
                lag = now_ms - event_time_ms
                if lag > self._lag_window_max_ms:
                    self._lag_window_max_ms = lag
                if event_time_ms > self.last_event_time_ms:
                    self.last_event_time_ms = event_time_ms
            if alert is not None:
                key = ("alerts", "severity", alert.severity)
                pending[key] = pending.get(key, 0) + 1
                for rule in alert.rule_ids:
                    key = ("alerts_by_rule", "rule", rule)
                    pending[key] = pending.get(key, 0) + 1
        elif kind == "invalid":
            key = ("invalid", "reason", reason or "unknown")
            pending[key] = pending.get(key, 0) + 1
        elif kind == "duplicate":
            key = ("duplicates", None, None)
            pending[key] = pending.get(key, 0) + 1
        if now_ms >= self._next_flush_ms:
            self.flush(now_ms)

    def flush(self, now_ms: int | None = None) -> None:
        """Add everything counted since the last flush to the Flink metrics."""
        now_ms = self._clock_ms() if now_ms is None else now_ms
        self._next_flush_ms = now_ms + self._flush_interval_ms
        for key, n in self._pending.items():
            if n:
                self._counter(key).inc(n)
        self._pending.clear()
        self._flush_buckets("score_bucket", SCORE_BUCKETS, self._score_counts)
        self._flush_buckets("scoring_latency_us_bucket", LATENCY_BUCKETS_US, self._latency_counts)
        self.event_time_lag_ms = self._lag_window_max_ms
        self._lag_window_max_ms = 0

    def _flush_buckets(self, name: str, bounds, counts: list[int]) -> None:
        # Cumulative (Prometheus `le`) buckets: each observation counts in its own bucket
        # and every wider one, so PromQL's histogram_quantile works on them as they are.
        if not any(counts):
            return
        running = 0
        for bound, n in zip((*bounds, float("inf")), counts, strict=True):
            running += n
            if running:
                self._counter((name, "le", _bound_label(bound))).inc(running)
        counts[:] = [0] * len(counts)

    def _counter(self, key: tuple[str, str | None, str | None]):
        counter = self._counters.get(key)
        if counter is None:
            name, label_key, label_value = key
            group = self._group
            if label_key is not None:
                group = group.add_group(label_key, label_value)
            counter = self._counters[key] = group.counter(name)
        return counter
