"""`python -m tests.udfs.country_distance_query`: every pair of reference countries through
the SQL function `country_distance_km` on Flink, printed as JSON lines (used by
test_country_distance_jvm.py)."""

from __future__ import annotations

import csv
import json
import sys

from pipeline.config import load_config
from pipeline.flink_env import create_environments


def main() -> int:
    cfg = load_config({"flink.log_dir": sys.argv[1], "flink.checkpoint_dir": sys.argv[2]})
    _, t_env = create_environments(cfg)
    from udfs import register_udfs

    register_udfs(t_env, cfg)
    with open(cfg.resolve(cfg.reference.dir) / "countries.csv", newline="") as f:
        codes = [r["country"] for r in csv.DictReader(f)] + ["ZZ", ""]
    pairs = ", ".join(f"('{a}', '{b}')" for a in codes for b in codes)
    table = t_env.sql_query(
        f"SELECT a, b, country_distance_km(a, b) FROM (VALUES {pairs}) AS t(a, b)"
    )
    with table.execute().collect() as rows:
        for row in rows:
            print(json.dumps([row[0], row[1], row[2]]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
