"""The SQL rules fire while an unbounded job runs, not only at the end of a bounded input:
event time (the source's watermark) reaches their windows and patterns. A rapid
deposit→withdrawal goes to a Kafka topic; the job (rules on, `rapid_in_out_sql` only) must
commit the rule's alert once a later event has moved the watermark past the pattern, while
it is still running. Watermarks that stop anywhere upstream (they once did, at the raw
stream's table conversion) keep the pattern open forever and fail this test."""

from __future__ import annotations

import json
import shutil

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.rule_files import DETECTOR_TWINS_DIR
from pipeline.sinks import OutputPaths
from pipeline.summary import read_json_lines
from tests.jobs import kill_job, start_job
from tests.kafka_topics import unique_topic
from tests.pipeline.test_job_kafka import produce
from tests.pipeline.test_job_kafka_kinesis import produce_more, wait_for
from tests.rules.crafted import HOUR, T0, Case, rapid_in_out

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]


def sql_alerts(paths: OutputPaths) -> list[str]:
    alerts = read_json_lines(paths.alerts)
    return [a["tx_id"] for a in alerts if a["rule_ids"] == ["rapid_in_out_sql"]]


def test_a_sql_pattern_alerts_while_the_stream_runs(local_stack, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(PROJECT_ROOT / DETECTOR_TWINS_DIR / "rapid_in_out_sql.sql", rules)
    case = rapid_in_out()
    fire = [e for e in case.events if e["wallet_id"] == "w_rio_fire"]
    topic = unique_topic("transactions-rules")
    produce(local_stack, topic, [json.dumps(e) for e in fire])
    job = start_job(
        tmp_path,
        1,
        **{
            "source.kind": "kafka",
            "source.format": "jsonl",
            "source.kafka_bootstrap_servers": local_stack,
            "source.kafka_topic": topic,
            "flink.checkpoint_interval_ms": "1000",
            "rules.enabled": "true",
            "rules.dir": str(rules),
        },
    )
    paths = OutputPaths(tmp_path / "lake")
    try:
        wait_for("the Python detector's alert", lambda: read_json_lines(paths.alerts), 300, job)
        assert sql_alerts(paths) == []  # the pattern waits for the watermark
        # An event three hours later (event time) on another wallet moves the watermark on.
        later = Case("advance")
        later.add("rio_watermark", T0 + 3 * HOUR, "trade", "w_rio_other", 10.0)
        produce_more(local_stack, topic, [json.dumps(e) for e in later.events])
        wait_for("the SQL rule's alert", lambda: sql_alerts(paths), 120, job)
    finally:
        kill_job(job)
    assert sql_alerts(paths) == sorted(case.fires)
