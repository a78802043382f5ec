"""The job's hook `sql_rule_alerts`: SQL alerts union with the Python detectors' alert
stream and land in the same exactly-once JSON-lines sink."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.rule_files import DETECTOR_TWINS_DIR
from pipeline.summary import read_json_lines
from tests.jobs import run_checked
from tests.rules.crafted import blocklist, write_csv
from tests.rules.hook_job import PYTHON_ALERT

pytestmark = pytest.mark.minicluster


def test_sql_alerts_join_the_python_alerts_in_the_alerts_sink(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(PROJECT_ROOT / DETECTOR_TWINS_DIR / "blocklist_sql.sql", rules)
    case = blocklist()
    events = write_csv([case], tmp_path / "events.csv")
    run_checked(
        [sys.executable, "-m", "tests.rules.hook_job", str(events), str(rules), str(tmp_path)]
    )
    alerts = read_json_lines(tmp_path / "alerts")
    assert json.loads(PYTHON_ALERT) in alerts
    sql = [a for a in alerts if a.get("rule_ids") == ["blocklist_sql"]]
    assert sorted(a["tx_id"] for a in sql) == sorted(case.fires)
    assert {a["model_version"] for a in sql} == {"hook-test-model"}
    assert len(alerts) == 1 + len(case.fires)
