"""The job's entry point on a Flink cluster: `flink run -d -pym pipeline.cluster_job [--set k=v]`.

`python -m pipeline.cluster submit` calls it that way. It builds the same graph as
`python -m pipeline run` (sources and sinks by config), clears the configured output folder
like `run` does, submits without waiting and prints the job id. The cluster's environment
(rest address, slots, reporter) comes from `flink run`; the job's own settings
(checkpointing, Python mode, connector jar) from `pipeline/flink_env.py`.
"""

from __future__ import annotations

import argparse
import shutil
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flink run -pym pipeline.cluster_job")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    from .config import load_config
    from .run import JOB_NAME, build_job
    from .sinks import lake_layout, output_paths

    cfg = load_config(dict(kv.split("=", 1) for kv in args.set))
    paths = output_paths(cfg)
    if paths.root.exists():
        shutil.rmtree(paths.root)
    env = build_job(cfg, lake_layout(cfg))
    client = env.execute_async(JOB_NAME)
    print(f"submitted job {client.get_job_id()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
