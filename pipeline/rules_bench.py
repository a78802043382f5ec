"""What the SQL-rule functions cost, JVM vs Python, thread vs process mode:
`python -m pipeline.rules_bench`.

Each variant runs in its own process (the Python execution mode is fixed per JVM): a
bounded datagen table of N rows with the 18 model features and two countries, one
expression per row into a blackhole sink; printed side by side with the JVM-only
baseline. Wall time includes the job's start-up, so compare variants at the same N.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from models.features import FEATURE_NAMES

VARIANTS = {
    # name: (python execution mode, expression summed over the rows)
    "jvm-only baseline": ("thread", "f_log_amount_usd * 2"),
    "jvm function country_distance_km": ("thread", "country_distance_km(c1, c2)"),
    "python row udf haversine_km, thread": ("thread", "haversine_km(f_kyc_tier, 1.0, 2.0, 3.0)"),
    "python row udf haversine_km, process": ("process", "haversine_km(f_kyc_tier, 1.0, 2.0, 3.0)"),
    "python row udf fraud_score, thread": ("thread", "fraud_score({features})"),
    "python row udf fraud_score, process": ("process", "fraud_score({features})"),
}


def run_variant(name: str, rows: int) -> dict:
    from .config import load_config
    from .flink_env import create_environments

    mode, expression = VARIANTS[name]
    cfg = load_config(
        {
            "flink.python_execution_mode": mode,
            "flink.log_dir": "out/logs/rules-bench",
            "flink.checkpoint_dir": "out/checkpoints/rules-bench",
        }
    )
    env, t_env = create_environments(cfg)
    env.set_parallelism(1)
    from udfs import register_udfs

    register_udfs(t_env, cfg)
    features = ", ".join(f"f_{n} DOUBLE" for n in FEATURE_NAMES)
    t_env.execute_sql(
        f"""CREATE TEMPORARY TABLE gen (id BIGINT, {features}) WITH (
  'connector' = 'datagen', 'number-of-rows' = '{rows}', 'rows-per-second' = '100000000',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '{rows}')"""
    )
    t_env.create_temporary_view(
        "src",
        t_env.sql_query(
            "SELECT *, CASE MOD(id, 3) WHEN 0 THEN 'DE' WHEN 1 THEN 'SG' ELSE 'BR' END AS c1,"
            " CASE MOD(id, 2) WHEN 0 THEN 'FR' ELSE 'JP' END AS c2 FROM gen"
        ),
    )
    t_env.execute_sql("CREATE TEMPORARY TABLE sink (x DOUBLE) WITH ('connector' = 'blackhole')")
    expr = expression.format(features=", ".join(f"f_{n}" for n in FEATURE_NAMES))
    start = time.perf_counter()
    t_env.execute_sql(f"INSERT INTO sink SELECT {expr} FROM src").wait()
    elapsed = time.perf_counter() - start
    return {"variant": name, "rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.rules_bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args(argv)
    if args.variant:
        print("RESULT " + json.dumps(run_variant(args.variant, args.rows)))
        return 0
    print(f"{'variant':<42} {'rows':>9} {'wall s':>8} {'rows/s':>10}", flush=True)
    for name in VARIANTS:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline.rules_bench",
                "--rows",
                str(args.rows),
                "--variant",
                name,
            ],
            capture_output=True,
            text=True,
        )
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"{name:<42} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(lines[-1][len("RESULT ") :])
        print(
            f"{name:<42} {r['rows']:>9,} {r['seconds']:>8.1f} {r['rows_per_s']:>10,.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
