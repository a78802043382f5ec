"""`python -m pipeline rules check`: plans every rule without running a job; a broken rule
is reported by file and line and fails the command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from pipeline.rule_files import DETECTOR_TWINS_DIR

pytestmark = pytest.mark.minicluster

BROKEN = """-- id: broken_rule
-- severity: low
-- description: selects a column the stream does not have
--
SELECT tx_id, wallet_id, event_time, score
FROM enriched_events
WHERE amount_eur > 100
"""
NO_SCORE = """-- id: no_score
-- severity: low
-- description: lacks the score column
SELECT tx_id, wallet_id, event_time FROM enriched_events
"""


def rules_check(folder: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "pipeline", "rules", "check", "--dir", str(folder)]
    args += ["--set", f"flink.log_dir={tmp_path / 'logs'}"]
    return subprocess.run(
        args,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def test_rules_check_reports_a_broken_rule_by_file_and_line(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(PROJECT_ROOT / DETECTOR_TWINS_DIR / "structuring_sql.sql", rules)
    (rules / "broken_rule.sql").write_text(BROKEN)
    (rules / "no_score.sql").write_text(NO_SCORE)
    proc = rules_check(rules, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    out = proc.stdout
    assert f"error: {rules / 'broken_rule.sql'}:7: " in out
    assert "Column 'amount_eur' not found" in out
    assert "   7 | WHERE amount_eur > 100" in out
    assert f"error: {rules / 'no_score.sql'}:4: the query must produce columns" in out
    assert f"ok     {rules / 'structuring_sql.sql'}" in out
    assert "2 of 3 rules failed" in out


def test_rules_check_passes_on_the_shipped_rules(tmp_path):
    proc = rules_check(PROJECT_ROOT / "sql" / "rules", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    shipped = sorted((PROJECT_ROOT / "sql" / "rules").glob("*.sql"))
    assert proc.stdout.count("\nok     ") + proc.stdout.startswith("ok     ") >= len(shipped)
    assert f"{len(shipped)} rules ok" in proc.stdout
