"""Running the real job from tests: `python -m pipeline run` in a subprocess (a fresh JVM, as
a user runs it), with its outputs under a test's temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.config import PROJECT_ROOT
from pipeline.sinks import OutputPaths


def run_job(out: Path, source: Path, parallelism: int, **overrides: str) -> OutputPaths:
    """Run the job on `source` with config `overrides`; a failure fails the test with its log."""
    settings = {
        "source.path": str(source),
        "sink.output_dir": str(out / "lake"),
        "flink.checkpoint_dir": str(out / "checkpoints"),
        "flink.log_dir": str(out / "logs"),
        "flink.parallelism": str(parallelism),
        "flink.checkpoint_interval_ms": "2000",
        **overrides,
    }
    args = [sys.executable, "-m", "pipeline", "run"]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    proc = subprocess.run(
        args,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return OutputPaths(out / "lake")
