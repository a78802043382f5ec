"""PipelineMetrics: what reaches the Flink metric group, and when (no JVM: an in-memory group
implementing PyFlink's MetricGroup interface)."""

from __future__ import annotations

from dataclasses import dataclass

from pyflink.metrics import Counter, MetricGroup

from pipeline.metrics import PipelineMetrics


class _Group(MetricGroup):
    """Flattens the group hierarchy into names like Flink's Prometheus reporter does; gauges
    are kept as their callables."""

    def __init__(self, registry: dict, scope: str = "", labels: tuple = ()) -> None:
        self.registry, self.scope, self.labels = registry, scope, labels

    def add_group(self, name: str, extra: str | None = None) -> MetricGroup:
        labels = self.labels + (((name, extra),) if extra is not None else ())
        return _Group(self.registry, f"{self.scope}{name}_", labels)

    def _key(self, name: str) -> str:
        labels = ",".join(f"{k}={v}" for k, v in self.labels)
        return f"{self.scope}{name}" + (f"{{{labels}}}" if labels else "")

    def counter(self, name: str) -> Counter:
        raise AssertionError("PipelineMetrics registers gauges only (no JVM call per record)")

    def gauge(self, name: str, obj) -> None:
        self.registry[self._key(name)] = obj

    def meter(self, name: str, time_span_in_seconds: int = 60):
        raise NotImplementedError

    def distribution(self, name: str):
        raise NotImplementedError


@dataclass
class _Alert:
    severity: str
    rule_ids: tuple[str, ...]


def _metrics():
    registry: dict = {}
    return PipelineMetrics(_Group(registry).add_group("kinesisanalytics")), registry


def _read(registry: dict, key: str) -> int:
    """What Flink reads: every pipeline metric is a gauge over a running total."""
    return registry[key]()


def test_metrics_count_each_outcome_under_the_group_with_labels():
    m, reg = _metrics()
    m.record("valid", 0, event_time_ms=0, score=0.05, alert=None, latency_us=80)
    m.record("valid", 10, event_time_ms=5, score=0.98, alert=_Alert("critical", ("model_score",)))
    m.record("invalid", 20, reason="bad_amount")
    m.record("duplicate", 30)
    m.record("mirrored", 40)

    assert _read(reg, "kinesisanalytics_events_in") == 4  # the mirrored copy is no event
    assert _read(reg, "kinesisanalytics_valid") == 2
    assert _read(reg, "kinesisanalytics_duplicates") == 1
    assert _read(reg, "kinesisanalytics_reason_invalid{reason=bad_amount}") == 1
    assert _read(reg, "kinesisanalytics_severity_alerts{severity=critical}") == 1
    assert _read(reg, "kinesisanalytics_rule_alerts_by_rule{rule=model_score}") == 1
    assert _read(reg, "kinesisanalytics_scoring_latency_us_sum") == 80
    assert _read(reg, "kinesisanalytics_dlq_records") == 1
    assert _read(reg, "kinesisanalytics_alerts_raised") == 1


def test_score_and_latency_buckets_are_cumulative():
    m, reg = _metrics()
    for score in (0.05, 0.15, 0.5, 0.96, 0.999):
        m.record("valid", 0, score=score, latency_us=150)

    def bucket(le: str) -> int:
        return _read(reg, f"kinesisanalytics_le_score_bucket{{le={le}}}")

    bounds = ("10", "20", "50", "90", "95", "99", "inf")
    assert [bucket(le) for le in bounds] == [1, 2, 3, 3, 3, 4, 5]
    assert _read(reg, "kinesisanalytics_le_scoring_latency_us_bucket{le=100}") == 0
    assert _read(reg, "kinesisanalytics_le_scoring_latency_us_bucket{le=200}") == 5


def test_a_new_label_value_registers_one_gauge_then_only_counts():
    m, reg = _metrics()
    m.record("invalid", 0, reason="bad_ip")
    gauge = reg["kinesisanalytics_reason_invalid{reason=bad_ip}"]
    for t in range(1, 500):
        m.record("invalid", t, reason="bad_ip")
    assert reg["kinesisanalytics_reason_invalid{reason=bad_ip}"] is gauge
    assert gauge() == 500  # read when asked: nothing waits for a flush
    assert m.total("invalid", "bad_ip") == 500


def test_event_time_lag_gauge_is_the_latest_events_lag():
    m, reg = _metrics()
    m.record("valid", 10_000, event_time_ms=4_000)
    m.record("valid", 10_100, event_time_ms=9_000)
    assert _read(reg, "kinesisanalytics_event_time_lag_ms") == 1_100
    assert _read(reg, "kinesisanalytics_last_event_time_ms") == 9_000
