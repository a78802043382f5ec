"""Run the fraud job on a local Flink minicluster over the configured bounded source."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass

from .config import PipelineConfig
from .sinks import OutputPaths, output_paths
from .summary import RunSummary, count_input_records, summarize

JOB_NAME = "crypto-fraud-detection"


@dataclass(frozen=True)
class RunResult:
    summary: RunSummary
    elapsed_s: float


def source_name(cfg: PipelineConfig) -> str:
    return f"file:{cfg.resolve(cfg.source.path)}"


def build_job(cfg: PipelineConfig, paths: OutputPaths):
    """Create the environments and the whole job graph; returns the stream environment."""
    from pyflink.common import WatermarkStrategy
    from pyflink.datastream.connectors.file_system import FileSource, StreamFormat

    from .flink_env import create_environments
    from .jars import ensure_jars, pipeline_jars
    from .job import build_fraud_pipeline
    from .sinks import attach_sinks

    ensure_jars()
    env, t_env = create_environments(cfg, pipeline_jars())
    if cfg.source.kind != "file":
        raise ValueError(f"source.kind {cfg.source.kind!r} is not supported yet (file)")
    file_source = FileSource.for_record_stream_format(
        StreamFormat.text_line_format(), str(cfg.resolve(cfg.source.path))
    ).build()
    raw = env.from_source(file_source, WatermarkStrategy.no_watermarks(), "transactions-file").uid(
        "transactions-file"
    )
    outputs = build_fraud_pipeline(t_env, raw, cfg, source_name(cfg))
    attach_sinks(t_env, outputs, paths, cfg)
    return env


def run_job(cfg: PipelineConfig, clean: bool = True) -> RunResult:
    """Run the job to the end of its bounded input and summarise the committed outputs."""
    source = cfg.resolve(cfg.source.path)
    if not source.is_file():
        raise FileNotFoundError(f"source.path {source} does not exist")
    paths = output_paths(cfg)
    if clean and paths.root.exists():
        shutil.rmtree(paths.root)
    env = build_job(cfg, paths)
    start = time.perf_counter()
    env.execute(JOB_NAME)
    elapsed = time.perf_counter() - start
    summary = summarize(paths, count_input_records(source, cfg.source.format))
    return RunResult(summary, elapsed)


def main(cfg: PipelineConfig) -> int:
    print(
        f"running {JOB_NAME} on {cfg.resolve(cfg.source.path)} "
        f"(parallelism {cfg.flink.parallelism}, python {cfg.flink.python_execution_mode} mode)",
        file=sys.stderr,
    )
    result = run_job(cfg)
    print(result.summary.render())
    print(f"  flink log   {cfg.resolve(cfg.flink.log_dir)}")
    print(
        f"job time {result.elapsed_s:.1f} s "
        f"({result.summary.events_read / max(result.elapsed_s, 1e-9):,.0f} events/s)"
    )
    return 0 if result.summary.accounted else 1
