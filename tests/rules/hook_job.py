"""A job wired as `pipeline/job.py` would wire the SQL rules (run by the hook test in a fresh
JVM): processed rows as the keyed operator's typed output stream, the SQL alerts unioned with
a Python-alerts STRING stream, written by the job's alerts FileSink.

    python -m tests.rules.hook_job EVENTS_CSV RULES_DIR OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyflink.common import Types

from pipeline.config import load_config
from pipeline.flink_env import create_environments
from pipeline.rules_cli import processed_rows
from pipeline.schemas import PROCESSED_ROW_TYPE
from pipeline.sinks import json_lines_sink
from pipeline.sql_rules import sql_rule_alerts

PYTHON_ALERT = '{"alert_id": "python-side", "rule_ids": ["velocity_burst"]}'


def main(events: Path, rules: Path, out: Path) -> None:
    cfg = load_config(
        {
            "rules.dir": str(rules),
            "flink.log_dir": str(out / "logs"),
            "flink.checkpoint_dir": str(out / "checkpoints"),
            "flink.checkpoint_interval_ms": "1000",
        }
    )
    rows = processed_rows(events, cfg)
    env, t_env = create_environments(cfg)
    decided = env.from_collection(rows, type_info=PROCESSED_ROW_TYPE)
    python_alerts = env.from_collection([PYTHON_ALERT], type_info=Types.STRING())
    sql_alerts = sql_rule_alerts(t_env, decided, cfg, "hook-test-model")
    python_alerts.union(sql_alerts).sink_to(json_lines_sink(out / "alerts", "alerts"))
    env.execute("sql-rules-hook")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
