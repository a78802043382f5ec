"""Run the job (as `python -m pipeline stream` builds it) until a stop file appears, then
stop it with a savepoint and print `savepoint <path>`: what `flink stop --savepointPath`
does on a cluster, for the minicluster of one process.

    python -m tests.control.savepoint_job --stop-file F --savepoint-dir D [--set key=value ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stop-file", required=True, type=Path)
    parser.add_argument("--savepoint-dir", required=True, type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    from pyflink.java_gateway import get_gateway

    from pipeline.config import load_config
    from pipeline.run import JOB_NAME, build_job
    from pipeline.sinks import lake_layout

    cfg = load_config(dict(kv.split("=", 1) for kv in args.set))
    client = build_job(cfg, lake_layout(cfg)).execute_async(JOB_NAME)
    print(f"job {client.get_job_id()}", flush=True)
    while not args.stop_file.exists():
        time.sleep(0.5)
    formats = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType
    path = client._j_job_client.stopWithSavepoint(
        False, args.savepoint_dir.resolve().as_uri(), formats.CANONICAL
    ).get()
    print(f"savepoint {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
