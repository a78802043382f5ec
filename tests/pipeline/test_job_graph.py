"""What runs on the keyed Python function's thread: nothing of the processed zone's
conversion and Parquet writer, with and without the control stream (`pipeline/job.py`)."""

from __future__ import annotations

import pytest

from tests.job_graph import vertex_names

pytestmark = pytest.mark.minicluster


def _wallet_risk_task(names: list[str]) -> str:
    (task,) = [n for n in names if n.startswith("wallet-risk")]
    return task


def _assert_writer_apart(names: list[str]) -> None:
    task = _wallet_risk_task(names)
    assert "streaming-writer" not in task and "Calc" not in task, task
    assert any("streaming-writer" in n for n in names), names  # the writer is still there


def test_the_parquet_writer_runs_apart_from_the_keyed_function():
    _assert_writer_apart(vertex_names({}))


@pytest.mark.stack
def test_with_control_the_parquet_writer_still_runs_apart(local_stack):
    from tests.control.kafka_control import new_topic

    names = vertex_names(
        {
            "control.enabled": "true",
            "control.topic": new_topic(local_stack, "fraud-control-graph"),
            "control.bootstrap_servers": local_stack,
        }
    )
    assert any(n.startswith("Source: control") for n in names), names
    _assert_writer_apart(names)
