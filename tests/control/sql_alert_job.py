"""A job wired as `pipeline/job.py` wires the SQL rules' alerts when `[control].enabled`
(run by `test_sql_alert_control.py` in a fresh JVM): SQL-rule alert JSON lines through the
`sql-alert-control` broadcast operator, written by the job's alerts FileSink. The job
starts from a floor of settings version 5 that turns `structuring_sql` off; the control
stream brings one stale update (version 1), rejected.

    python -m tests.control.sql_alert_job OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pyflink.common import Types

from pipeline.config import load_config
from pipeline.control_function import ControlWiring
from pipeline.control_settings import Settings
from pipeline.flink_env import create_environments
from pipeline.rule_files import DETECTOR_TWINS_DIR
from pipeline.sinks import json_lines_sink
from tests.contracts.test_contracts import ALERT

FLOOR = Settings(5, {"velocity_burst": {"min_count": 4}}, {"structuring_sql": False})
SQL_ALERTS = [
    json.dumps({**ALERT, "alert_id": rule_id, "rule_ids": [rule_id]}, sort_keys=True)
    for rule_id in ("structuring_sql", "geo_jump_sql", "blocklist_sql")
]


def main(out: Path) -> None:
    cfg = load_config(
        {
            "control.enabled": "true",
            "rules.dir": DETECTOR_TWINS_DIR,  # the rule ids below
            "flink.log_dir": str(out / "logs"),
            "flink.checkpoint_dir": str(out / "checkpoints"),
            "flink.checkpoint_interval_ms": "1000",
        }
    )
    env, _ = create_environments(cfg)
    control = env.from_collection(
        ['{"version": 1, "rules": {"blocklist_sql": {"enabled": false}}}'],
        type_info=Types.STRING(),
    )
    alerts = env.from_collection(SQL_ALERTS, type_info=Types.STRING())
    wiring = ControlWiring(cfg, control, FLOOR)
    wiring.sql_alerts(alerts).sink_to(json_lines_sink(out / "alerts", "alerts"))
    env.execute("sql-alert-control")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
