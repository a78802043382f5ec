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

import re
import threading
import urllib.request
from collections import defaultdict

KINDS = {
    "busyTimeMsPerSecond": "busy",
    "backPressuredTimeMsPerSecond": "backpressured",
    "idleTimeMsPerSecond": "idle",
}
_LINE = re.compile(
    r"^flink_taskmanager_job_task_(busyTimeMsPerSecond|backPressuredTimeMsPerSecond"
    r"|idleTimeMsPerSecond)\{(?P<labels>[^}]*)\} (?P<value>\S+)$"
)
_TASK_NAME = re.compile(r'task_name="([^"]*)"')
_SUBTASK = re.compile(r'subtask_index="([^"]*)"')


def task_times(metrics_text: str) -> dict[str, dict[str, float]]:
    """{task: {"busy" | "backpressured" | "idle": ms per second}} from a Prometheus page;
    subtasks of one task are averaged. Task names are Prometheus-escaped (`wallet_risk`)."""
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for line in metrics_text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        task = _TASK_NAME.search(m["labels"])
        if task is None:
            continue
        values[(task[1], KINDS[m[1]])].append(float(m["value"]))
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (task, kind), vs in values.items():
        out[task][kind] = sum(vs) / len(vs)
    return dict(out)


def steady_state(samples: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """The samples' average per task and kind, without the first quarter (start-up) and the
    last eighth (end of input) of the run; all samples when there are fewer than 4."""
    if len(samples) >= 4:
        samples = samples[len(samples) // 4 : len(samples) - len(samples) // 8]
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for sample in samples:
        for task, kinds in sample.items():
            for kind, value in kinds.items():
                sums[task][kind].append(value)
    return {
        task: {kind: sum(vs) / len(vs) for kind, vs in kinds.items()}
        for task, kinds in sums.items()
    }


class TaskTimeSampler:
    """Scrapes `url` every `interval_s` until closed, keeping the samples where some task
    was busy (the job running)."""

    def __init__(self, url: str, interval_s: float = 2.0) -> None:
        self.samples: list[dict[str, dict[str, float]]] = []
        self._url = url
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with urllib.request.urlopen(self._url, timeout=1.0) as response:
                    sample = task_times(response.read().decode())
            except OSError:
                continue  # the reporter is not up yet, or already down
            if any(kinds.get("busy", 0) > 0 for kinds in sample.values()):
                self.samples.append(sample)
