"""`python -m tests.failure.savepoint_runner stream --set k=v … --savepoint-trigger FILE
--savepoint-dir DIR`: the job of `python -m pipeline stream`, submitted asynchronously;
when FILE appears it is stopped with a savepoint into DIR (Flink's stop-with-savepoint:
sources stop, a final savepoint is taken, sinks commit), whose path is written to FILE.done.

The suite's scenario (e) uses it: the minicluster of a local run has no REST endpoint to
send `flink stop` to, but its JobClient can stop the job the same way.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["stream"])
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--savepoint-trigger", type=Path, required=True)
    parser.add_argument("--savepoint-dir", type=Path, required=True)
    args = parser.parse_args(argv)

    from pipeline.config import load_config
    from pipeline.run import JOB_NAME, build_job
    from pipeline.sinks import lake_layout

    cfg = load_config(dict(kv.split("=", 1) for kv in args.set))
    env = build_job(cfg, lake_layout(cfg))
    client = env.execute_async(JOB_NAME)
    print(f"submitted job {client.get_job_id()}", file=sys.stderr, flush=True)
    while not args.savepoint_trigger.exists():
        time.sleep(0.2)
    # PyFlink 2.2.1's JobClient.stop_with_savepoint calls a Java overload Flink 2.x no
    # longer has (without the format type): call the Java client directly.
    from pyflink.java_gateway import get_gateway

    canonical = get_gateway().jvm.org.apache.flink.core.execution.SavepointFormatType.CANONICAL
    j_client = client._j_job_client
    path = j_client.stopWithSavepoint(False, args.savepoint_dir.as_uri(), canonical).get()
    print(f"stopped with savepoint {path}", file=sys.stderr, flush=True)
    j_client.getJobExecutionResult().get()
    Path(f"{args.savepoint_trigger}.done").write_text(str(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
