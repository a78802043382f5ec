"""The job's own metrics, registered in Flink's metric groups (issue 7).

`PipelineMetrics` is created in a Flink function's `open()` from its runtime context and
told about every record with one call, `record(...)`. It counts in plain Python and adds the
counts to Flink *counters* at most once per `flush_interval_ms` (default 1 s): a counter
update from thread-mode Python is a call into the JVM, too dear per record. So that the last
counts of a stream that goes quiet are not left behind, the function also asks for a
processing-time timer (`schedule_flush`) and calls `on_timer()` from its `on_timer`.

Why counters and not Python gauges: PyFlink's Python gauge is a Python callable that Flink
calls from the reporter's thread (the Prometheus HTTP thread, the web UI's metric fetcher).
In thread mode that runs the embedded interpreter from a second thread while the task
thread runs it: measured here, the JVM dies with SIGSEGV in libpython within seconds of
scraping. Every metric below is therefore a Counter updated only from the task thread;
the two "gauges" (`event_time_lag_ms`, `last_event_time_ms`) are counters moved by the
difference to their new value (Flink's Prometheus reporter exports counters as gauges).

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
| `event_time_lag_ms` | | largest now − event_time of the last flush interval (set, not summed) |
| `last_event_time_ms` | | newest event time seen, epoch ms (set, not summed) |

Histograms are bucketed counters because PyFlink's Python `MetricGroup` has no histogram,
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
    """Counts outcomes of the keyed function and adds them to Flink counters.

    `group` is any `pyflink.metrics.MetricGroup` (the runtime context's group plus
    `metrics.group`). Every Flink call happens on the caller's (task) thread: a counter is
    registered the first time a key (a new reason, rule or severity) appears, and counters
    are incremented once per flush.
    """

    def __init__(self, group: Any, flush_interval_ms: int = 1_000) -> None:
        self._group = group
        self._flush_interval_ms = flush_interval_ms
        self._next_flush_ms = 0
        self._timer_set = False
        self._counters: dict[tuple[str, str | None, str | None], Any] = {}
        # increments not yet added to the Flink counters: the labelled ones by
        # (name, label key, label value), the fixed ones in _FIXED_SUMMED order
        self._pending: dict[tuple[str, str | None, str | None], int] = {}
        self._fixed = [0] * len(_FIXED_SUMMED)
        self._score_counts = [0] * (len(SCORE_BUCKETS) + 1)
        self._latency_counts = [0] * (len(LATENCY_BUCKETS_US) + 1)
        self._lag_window_max_ms = _NO_LAG
        self._published = {_LAG: 0, _LAST_EVENT: 0}
        self.last_event_time_ms = 0
        # Register the fixed counters up front so dashboards see zeros, not gaps.
        for key in (
            _EVENTS_IN,
            _VALID,
            _DUPLICATES,
            _DLQ,
            _ALERTS,
            _LATENCY_SUM,
            _LAG,
            _LAST_EVENT,
        ):
            self._counter(key)
        for bound in (*SCORE_BUCKETS, float("inf")):
            self._counter(("score_bucket", "le", _bound_label(bound)))
        for bound in (*LATENCY_BUCKETS_US, float("inf")):
            self._counter(("scoring_latency_us_bucket", "le", _bound_label(bound)))

    @classmethod
    def from_runtime_context(
        cls,
        runtime_context,
        group_name: str,
        flush_interval_ms: int = 1_000,
        enabled: bool = True,
    ) -> PipelineMetrics | DisabledMetrics:
        """The metrics of one Flink function instance; call in `open()`.

        `enabled=False` (`metrics.enabled`) gives a `DisabledMetrics` that counts nothing:
        the baseline of the overhead benchmark (`python -m pipeline bench --metrics-overhead`).
        """
        if not enabled:
            return DisabledMetrics()
        return cls(runtime_context.get_metrics_group().add_group(group_name), flush_interval_ms)

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
        if kind != "mirrored":
            fixed = self._fixed
            fixed[0] += 1  # events_in
            if kind == "valid":
                fixed[1] += 1
                if score is not None:
                    self._score_counts[bisect_left(SCORE_BUCKETS, score)] += 1
                if latency_us is not None:
                    self._latency_counts[bisect_left(LATENCY_BUCKETS_US, latency_us)] += 1
                    fixed[5] += latency_us
                if event_time_ms is not None:
                    lag = now_ms - event_time_ms
                    if lag > self._lag_window_max_ms:
                        self._lag_window_max_ms = lag
                    if event_time_ms > self.last_event_time_ms:
                        self.last_event_time_ms = event_time_ms
                if alert is not None:
                    fixed[4] += 1
                    pending = self._pending
                    key = ("alerts", "severity", alert.severity)
                    pending[key] = pending.get(key, 0) + 1
                    for rule in alert.rule_ids:
                        key = ("alerts_by_rule", "rule", rule)
                        pending[key] = pending.get(key, 0) + 1
            elif kind == "invalid":
                fixed[3] += 1
                pending = self._pending
                key = ("invalid", "reason", reason or "unknown")
                pending[key] = pending.get(key, 0) + 1
            elif kind == "duplicate":
                fixed[2] += 1
        if now_ms >= self._next_flush_ms:
            self.flush(now_ms)

    def schedule_flush(self, timer_service, now_ms: int) -> None:
        """Ask for a processing-time timer one interval ahead unless one is pending; the
        function's `on_timer` then calls `on_timer()` (flushes the tail of a stream that goes
        quiet). At most one timer per interval while records flow."""
        if not self._timer_set:
            timer_service.register_processing_time_timer(now_ms + self._flush_interval_ms)
            self._timer_set = True

    def on_timer(self, timestamp_ms: int) -> None:
        """The flush timer fired (call from the function's `on_timer`)."""
        self._timer_set = False
        self.flush(timestamp_ms)

    def flush(self, now_ms: int | None = None) -> None:
        """Add everything counted since the last flush to the Flink counters."""
        if now_ms is not None:
            self._next_flush_ms = now_ms + self._flush_interval_ms
        fixed = self._fixed
        for i, key in enumerate(_FIXED_SUMMED):
            if fixed[i]:
                self._counter(key).inc(int(fixed[i]))
                fixed[i] = 0
        for key, n in self._pending.items():
            if n:
                self._counter(key).inc(n)
        self._pending.clear()
        self._flush_buckets("score_bucket", SCORE_BUCKETS, self._score_counts)
        self._flush_buckets("scoring_latency_us_bucket", LATENCY_BUCKETS_US, self._latency_counts)
        if self._lag_window_max_ms != _NO_LAG:
            self._set(_LAG, self._lag_window_max_ms)
            self._lag_window_max_ms = _NO_LAG
        self._set(_LAST_EVENT, self.last_event_time_ms)

    def total(self, name: str, label_value: str | None = None) -> int:
        """The value of a Flink counter (as flushed), for tests and the summary."""
        return sum(
            c.get_count()
            for (n, _, lv), c in self._counters.items()
            if n == name and lv == label_value
        )

    def _set(self, key: tuple[str, str | None, str | None], value: int) -> None:
        # A counter used as a settable gauge: moved by the difference to its new value.
        delta = int(value) - self._published[key]
        if delta:
            self._counter(key).inc(delta)
            self._published[key] = int(value)

    def _flush_buckets(self, name: str, bounds, counts: list[int]) -> None:
        # Cumulative (Prometheus `le`) buckets: each observation counts in its own bucket
        # and every wider one, so PromQL's histogram_quantile-style reading works.
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


class DisabledMetrics:
    """`PipelineMetrics` that counts nothing and registers no Flink metric (same calls)."""

    last_event_time_ms = 0

    def record(self, kind: str, now_ms: int, **outcome: Any) -> None:
        pass

    def schedule_flush(self, timer_service, now_ms: int) -> None:
        pass

    def on_timer(self, timestamp_ms: int) -> None:
        pass

    def flush(self, now_ms: int | None = None) -> None:
        pass

    def total(self, name: str, label_value: str | None = None) -> int:
        return 0


_EVENTS_IN = ("events_in", None, None)
_VALID = ("valid", None, None)
_DUPLICATES = ("duplicates", None, None)
_DLQ = ("dlq_records", None, None)
_ALERTS = ("alerts_raised", None, None)
_LATENCY_SUM = ("scoring_latency_us_sum", None, None)
_LAG = ("event_time_lag_ms", None, None)
_LAST_EVENT = ("last_event_time_ms", None, None)
# Summed counters kept as a list in this order by `record` (indices used there).
_FIXED_SUMMED = (_EVENTS_IN, _VALID, _DUPLICATES, _DLQ, _ALERTS, _LATENCY_SUM)
_FIXED = (*_FIXED_SUMMED, _LAG, _LAST_EVENT)
_NO_LAG = -(2**62)
