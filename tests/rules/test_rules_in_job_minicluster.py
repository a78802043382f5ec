"""The SQL rules inside the real job (`python -m pipeline run`, keyed Python operator and
rules in one JVM, parallelism 2): the job starts (it used to hang at start-up, README "Rules
in Flink SQL"), and on the committed sample every SQL twin of a Python detector
(`sql/rules/detector-twins`) alerts exactly the transactions its Python twin alerts in the
same run. Both read one stream, so a rule that lost events
(e.g. as late behind a watermark that ran ahead of them) would miss alerts here."""

from __future__ import annotations

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.rule_files import DETECTOR_TWINS_DIR
from pipeline.summary import read_json_lines
from tests.jobs import run_job
from tests.rules.test_sql_rules_minicluster import PARITY, by_rule

pytestmark = pytest.mark.minicluster


def test_sql_rules_in_the_job_alert_what_their_python_twins_alert(tmp_path):
    sample = PROJECT_ROOT / "datasets" / "sample_transactions.csv"
    paths = run_job(
        tmp_path, sample, 2, **{"rules.enabled": "true", "rules.dir": DETECTOR_TWINS_DIR}
    )
    alerts = by_rule(read_json_lines(paths.alerts))
    for sql_rule, detector in PARITY.items():
        assert alerts[detector], f"{detector} never fired on the sample"
        assert alerts[sql_rule] == alerts[detector], sql_rule
