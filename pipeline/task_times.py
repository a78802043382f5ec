"""Where each task of a running job spends its time, from Flink's own task metrics.

Flink reports per task, in ms per second: `busyTimeMsPerSecond` (processing, or waiting
for a CPU), `backPressuredTimeMsPerSecond` (waiting for room in its outputs) and
`idleTimeMsPerSecond` (waiting for input). The benchmark scrapes them from the job's
Prometheus reporter while the job runs (`pipeline/bench.py`). They tell a bottleneck
(busy ~1000) from a task that waits on a slow consumer (backpressured): that is how the
keyed function was found waiting a fifth of its time on the SQL rules' task (README,
"Performance").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .process_stats import BackgroundSampler
from .prometheus import Sample, scrape_all

_TASK_METRIC = "flink_taskmanager_job_task_"
KINDS = {
    "busyTimeMsPerSecond": "busy",
    "backPressuredTimeMsPerSecond": "backpressured",
    "idleTimeMsPerSecond": "idle",
}


def task_times(samples: Iterable[Sample]) -> dict[str, dict[str, float]]:
    """{task: {"busy" | "backpressured" | "idle": ms per second}} from scraped samples
    (`pipeline/prometheus.py`); subtasks of one task are averaged. Task names are
    Prometheus-escaped (`wallet_risk`)."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in samples:
        kind = KINDS.get(s.name.removeprefix(_TASK_METRIC))
        task = s.labels.get("task_name")
        if kind is not None and task is not None and s.name.startswith(_TASK_METRIC):
            values[task][kind].append(s.value)
    return _means(values)


def steady_state(samples: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """The samples' average per task and kind, without the first quarter (start-up) and the
    last eighth (end of input) of the run; all samples when there are fewer than 4."""
    if len(samples) >= 4:
        samples = samples[len(samples) // 4 : len(samples) - len(samples) // 8]
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for sample in samples:
        for task, kinds in sample.items():
            for kind, value in kinds.items():
                values[task][kind].append(value)
    return _means(values)


def _means(values: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    return {
        task: {kind: sum(vs) / len(vs) for kind, vs in kinds.items()}
        for task, kinds in values.items()
    }


class TaskTimeSampler(BackgroundSampler):
    """Scrapes the reporters on `ports` (a Flink port spec; "" = none) every `interval_s`
    until closed, keeping the samples where some task was busy (the job running)."""

    def __init__(self, ports: str, interval_s: float = 2.0) -> None:
        from .config import _port_range

        super().__init__(interval_s)
        self.samples: list[dict[str, dict[str, float]]] = []
        self._urls = [f"http://127.0.0.1:{p}/metrics" for p in sorted(_port_range(ports))]

    def _sample(self) -> None:
        sample = task_times(scrape_all(self._urls))  # a reporter not up (yet) is skipped
        if any(kinds.get("busy", 0) > 0 for kinds in sample.values()):
            self.samples.append(sample)
