"""The `sql-alert-control` broadcast operator in a real (minicluster) job: SQL-rule alerts of
a rule turned off are dropped, the others carry the settings version. (The SQL rules
themselves stay off in the job here: README "Rules in Flink SQL", known issue.)"""

from __future__ import annotations

import sys

import pytest

from pipeline.summary import read_json_lines
from tests.jobs import run_checked

pytestmark = pytest.mark.minicluster


def test_sql_rule_alerts_pass_the_control_operator_with_their_settings_version(tmp_path):
    run_checked([sys.executable, "-m", "tests.control.sql_alert_job", str(tmp_path)])
    alerts = read_json_lines(tmp_path / "alerts")
    assert sorted((a["rule_ids"][0], a["settings_version"]) for a in alerts) == [
        ("blocklist_sql", 5),  # the stale update (version 1) turning it off was rejected
        ("geo_jump_sql", 5),
    ]
