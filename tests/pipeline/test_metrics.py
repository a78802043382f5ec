"""PipelineMetrics: what reaches the Flink metric group, and when (no JVM: an in-memory group
implementing PyFlink's MetricGroup interface)."""

from __future__ import annotations

from dataclasses import dataclass

from pyflink.metrics import Counter, MetricGroup

from pipeline.metrics import PipelineMetrics


class _Counter(Counter):
    def __init__(self) -> None:
        self.count = 0
        self.calls = 0

    def inc(self, n: int = 1):
        self.count += n
        self.calls += 1

    def dec(self, n: int = 1):
        self.inc(-n)

    def get_count(self) -> int:
        return self.count


class _Group(MetricGroup):
    """Flattens the group hierarchy into names like Flink's Prometheus reporter does."""

    def __init__(self, registry: dict, scope: str = "", labels: tuple = ()) -> None:
        self.registry, self.scope, self.labels = registry, scope, labels

    def add_group(self, name: str, extra: str | None = None) -> MetricGroup:
        labels = self.labels + (((name, extra),) if extra is not None else ())
        return _Group(self.registry, f"{self.scope}{name}_", labels)

    def _key(self, name: str) -> str:
        labels = ",".join(f"{k}={v}" for k, v in self.labels)
        return f"{self.scope}{name}" + (f"{{{labels}}}" if labels else "")

    def counter(self, name: str) -> Counter:
        return self.registry.setdefault(self._key(name), _Counter())

    def gauge(self, name: str, obj) -> None:
        # Flink would call a Python gauge from the reporter's thread: in thread mode that
        # crashed the JVM (SIGSEGV in libpython), so PipelineMetrics must never register one.
        raise AssertionError("PipelineMetrics must not register Python gauges")

    def meter(self, name: str, time_span_in_seconds: int = 60):
        raise NotImplementedError

    def distribution(self, name: str):
        raise NotImplementedError


@dataclass
class _Alert:
    severity: str
    rule_ids: tuple[str, ...]


class _Timers:
    def __init__(self) -> None:
        self.registered: list[int] = []

    def register_processing_time_timer(self, ts: int) -> None:
        self.registered.append(ts)


def _metrics(flush_interval_ms: int = 1_000):
    registry: dict = {}
    group = _Group(registry).add_group("kinesisanalytics")
    return PipelineMetrics(group, flush_interval_ms), registry


def _count(registry: dict, key: str) -> int:
    return registry[key].count


def test_metrics_count_each_outcome_under_the_group_with_labels():
    m, reg = _metrics()
    m.record("valid", 0, event_time_ms=0, score=0.05, alert=None, latency_us=80)
    m.record("valid", 10, event_time_ms=5, score=0.98, alert=_Alert("critical", ("model_score",)))
    m.record("invalid", 20, reason="bad_amount")
    m.record("duplicate", 30)
    m.record("mirrored", 40)
    m.flush(50)

    assert _count(reg, "kinesisanalytics_events_in") == 4  # the mirrored copy is no event
    assert _count(reg, "kinesisanalytics_valid") == 2
    assert _count(reg, "kinesisanalytics_duplicates") == 1
    assert _count(reg, "kinesisanalytics_reason_invalid{reason=bad_amount}") == 1
    assert _count(reg, "kinesisanalytics_dlq_records") == 1
    assert _count(reg, "kinesisanalytics_severity_alerts{severity=critical}") == 1
    assert _count(reg, "kinesisanalytics_alerts_raised") == 1
    assert _count(reg, "kinesisanalytics_rule_alerts_by_rule{rule=model_score}") == 1
    assert _count(reg, "kinesisanalytics_scoring_latency_us_sum") == 80
    assert m.total("invalid", "bad_amount") == 1


def test_score_and_latency_buckets_are_cumulative():
    m, reg = _metrics()
    for score in (0.05, 0.15, 0.5, 0.96, 0.999):
        m.record("valid", 0, score=score, latency_us=150)
    m.flush(1)

    def bucket(le: str) -> int:
        return _count(reg, f"kinesisanalytics_le_score_bucket{{le={le}}}")

    bounds = ("10", "20", "50", "90", "95", "99", "inf")
    assert [bucket(le) for le in bounds] == [1, 2, 3, 3, 3, 4, 5]
    assert _count(reg, "kinesisanalytics_le_scoring_latency_us_bucket{le=100}") == 0
    assert _count(reg, "kinesisanalytics_le_scoring_latency_us_bucket{le=200}") == 5


def test_counts_reach_flink_once_per_flush_interval_not_per_record():
    m, reg = _metrics(flush_interval_ms=1_000)
    m.record("invalid", 0, reason="bad_ip")  # the first record flushes (nothing flushed yet)
    for t in range(1, 500):
        m.record("invalid", t, reason="bad_ip")
    counter = reg["kinesisanalytics_reason_invalid{reason=bad_ip}"]
    assert (counter.count, counter.calls) == (1, 1)  # the other 499 wait for the interval

    m.record("invalid", 1_000, reason="bad_ip")
    assert (counter.count, counter.calls) == (501, 2)


def test_a_quiet_stream_is_flushed_by_the_processing_time_timer():
    m, reg = _metrics(flush_interval_ms=1_000)
    timers = _Timers()
    for t in (0, 100, 200):
        m.schedule_flush(timers, t)
        m.record("duplicate", t)
    assert timers.registered == [1_000]  # one timer, not one per record
    assert _count(reg, "kinesisanalytics_duplicates") == 1  # 2 still pending
    m.on_timer(1_000)
    assert _count(reg, "kinesisanalytics_duplicates") == 3
    m.schedule_flush(timers, 5_000)
    assert timers.registered == [1_000, 6_000]


def test_lag_and_last_event_time_are_set_not_summed():
    m, reg = _metrics()
    m.record("valid", 10_000, event_time_ms=9_000)
    m.record("valid", 10_100, event_time_ms=4_000)
    m.flush(10_200)
    assert _count(reg, "kinesisanalytics_event_time_lag_ms") == 6_100  # largest of the interval
    assert _count(reg, "kinesisanalytics_last_event_time_ms") == 9_000
    m.record("valid", 20_000, event_time_ms=19_500)
    m.flush(20_100)
    assert _count(reg, "kinesisanalytics_event_time_lag_ms") == 500
    assert _count(reg, "kinesisanalytics_last_event_time_ms") == 19_500


class _RuntimeContext:
    def __init__(self, registry: dict) -> None:
        self.registry = registry

    def get_metrics_group(self):
        return _Group(self.registry)


def test_disabled_metrics_register_and_count_nothing():
    registry: dict = {}
    m = PipelineMetrics.from_runtime_context(
        _RuntimeContext(registry), "kinesisanalytics", 1_000, enabled=False
    )
    timers = _Timers()
    m.schedule_flush(timers, 0)
    m.record("valid", 5_000, event_time_ms=1, score=0.5, alert=_Alert("high", ("r",)))
    m.record("invalid", 6_000, reason="bad_amount")
    m.flush(7_000)
    assert registry == {} and timers.registered == []
    enabled = PipelineMetrics.from_runtime_context(_RuntimeContext(registry), "kinesisanalytics")
    assert isinstance(enabled, PipelineMetrics) and registry  # the fixed counters up front
