"""Flink's task times from a Prometheus page (`pipeline/task_times.py`)."""

from __future__ import annotations

import http.server
import threading

from pipeline.prometheus import parse
from pipeline.task_times import TaskTimeSampler, steady_state, task_times


def _metric(name: str, task: str, subtask: str | None, value: float) -> str:
    labels = f'job_name="fraud",task_name="{task}",'
    if subtask is not None:
        labels += f'subtask_index="{subtask}",'
    return f"flink_taskmanager_job_task_{name}{{{labels}}} {value}"


PAGE = "\n".join(
    [
        "# HELP flink_taskmanager_job_task_busyTimeMsPerSecond busyTimeMsPerSecond",
        "# TYPE flink_taskmanager_job_task_busyTimeMsPerSecond gauge",
        _metric("busyTimeMsPerSecond", "wallet_risk", "0", 900.0),
        _metric("busyTimeMsPerSecond", "wallet_risk", "1", 800.0),
        _metric("backPressuredTimeMsPerSecond", "wallet_risk", "0", 100.0),
        _metric("backPressuredTimeMsPerSecond", "wallet_risk", "1", 150.0),
        _metric("idleTimeMsPerSecond", "Source:_transactions_file", "0", 5.0),
        _metric("changelogBusyTimeMsPerSecond", "wallet_risk", "0", 0.0),
        _metric("operator_numRecordsIn", "wallet_risk", None, 12.0),
    ]
)


def test_task_times_average_the_subtasks_and_skip_other_metrics():
    assert task_times(parse(PAGE)) == {
        "wallet_risk": {"busy": 850.0, "backpressured": 125.0},
        "Source:_transactions_file": {"idle": 5.0},
    }
    assert task_times(parse("")) == {}


def test_steady_state_drops_start_up_and_the_end():
    samples = [{"t": {"busy": float(v)}} for v in (0, 0, 500, 600, 700, 800, 900, 100)]
    # first quarter (2) and last eighth (1) dropped: 500..900
    assert steady_state(samples) == {"t": {"busy": 700.0}}
    assert steady_state(samples[:3]) == {"t": {"busy": 500 / 3}}
    assert steady_state([]) == {}


def test_the_sampler_scrapes_a_live_page_and_keeps_busy_samples():
    pages = iter([PAGE.replace("900.0", "0.0").replace("800.0", "0.0"), PAGE] * 50)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = next(pages).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with TaskTimeSampler(str(server.server_address[1]), interval_s=0.05) as sampler:
            while len(sampler.samples) < 3:
                threading.Event().wait(0.05)
    finally:
        server.shutdown()
    # idle-only pages (no task busy) are not kept
    assert all(s["wallet_risk"]["busy"] == 850.0 for s in sampler.samples)
