"""Run the fraud job on a local Flink minicluster over the configured bounded source."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .config import PipelineConfig
from .sinks import LakeLayout, lake_layout, output_paths
from .sources import source_name
from .summary import RunSummary, count_input_records, summarize

JOB_NAME = "crypto-fraud-detection"


@dataclass(frozen=True)
class RunResult:
    summary: RunSummary
    elapsed_s: float


def build_job(cfg: PipelineConfig, layout: LakeLayout):
    """Create the environments and the whole job graph; returns the stream environment."""
    from .flink_env import create_environments
    from .jars import ensure_jars, pipeline_jars
    from .job import build_fraud_pipeline
    from .sinks import attach_raw_zone, attach_sinks
    from .sources import raw_records

    ensure_jars()
    env, t_env = create_environments(cfg, pipeline_jars())
    raw = raw_records(env, cfg)
    attach_raw_zone(raw, layout, cfg)
    outputs = build_fraud_pipeline(t_env, raw, cfg, source_name(cfg))
    attach_sinks(t_env, outputs, layout, cfg)
    return env


def run_job(cfg: PipelineConfig, clean: bool = True) -> RunResult:
    """Run the job to the end of its bounded input and summarise the committed outputs."""
    expected = expected_records(cfg)
    layout = lake_layout(cfg)
    paths = output_paths(cfg)
    if clean and paths.root.exists():
        shutil.rmtree(paths.root)
    if clean and layout.is_s3:
        from .lake import S3Location, clear, s3_client

        clear(s3_client(cfg), S3Location.parse(layout.root))
    env = build_job(cfg, layout)
    start = time.perf_counter()
    env.execute(JOB_NAME)
    elapsed = time.perf_counter() - start
    if layout.is_s3:
        from .lake import S3Location, mirror_visible, s3_client

        # Summarise what a reader of the bucket sees: the committed objects only.
        mirror_visible(s3_client(cfg), S3Location.parse(layout.root), paths.root)
    return RunResult(summarize(paths, expected), elapsed)


def stream_job(cfg: PipelineConfig) -> None:
    """Run the job until its source ends or the process is stopped, without clearing or
    summarising the lake (an unbounded Kafka source never ends). Checkpoints are retained
    when the job dies; `flink.restore_path` restarts from one (see latest_checkpoint)."""
    env = build_job(cfg, lake_layout(cfg))
    env.execute(JOB_NAME)


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest completed checkpoint under `checkpoint_dir` (<job id>/chk-N with its
    `_metadata`, which Flink writes last), or None."""
    done = [m.parent for m in checkpoint_dir.glob("*/chk-*/_metadata")]
    return max(done, key=lambda p: p.stat().st_mtime_ns, default=None)


def expected_records(cfg: PipelineConfig) -> int:
    """How many records the bounded run will read, counted independently of the job."""
    s = cfg.source
    if s.kind == "file":
        source = cfg.resolve(s.path)
        if not source.is_file():
            raise FileNotFoundError(f"source.path {source} does not exist")
        return count_input_records(source, s.format)
    if not s.kafka_bounded or s.kafka_start != "earliest":
        raise ValueError("a local run needs a bounded Kafka source from the earliest offsets")
    return kafka_topic_records(s.kafka_bootstrap_servers, s.kafka_topic)


def kafka_topic_records(bootstrap: str, topic: str, timeout_s: float = 10.0) -> int:
    """Records in a topic now: sum over partitions of (high watermark - low watermark)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fraud-pipeline-count"})
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s)
        if meta.topics[topic].error is not None:
            raise RuntimeError(f"Kafka topic {topic!r}: {meta.topics[topic].error}")
        total = 0
        for partition in meta.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout_s
            )
            total += high - low
        return total
    finally:
        consumer.close()


def main(cfg: PipelineConfig) -> int:
    print(
        f"running {JOB_NAME} on {source_name(cfg)} "
        f"(parallelism {cfg.flink.parallelism}, python {cfg.flink.python_execution_mode} mode)",
        file=sys.stderr,
    )
    result = run_job(cfg)
    print(result.summary.render())
    if cfg.sink.kind == "s3":
        print(
            f"  lake        {cfg.sink.s3_root}  (committed objects mirrored into the paths above)"
        )
    print(f"  flink log   {cfg.resolve(cfg.flink.log_dir)}")
    print(
        f"job time {result.elapsed_s:.1f} s "
        f"({result.summary.events_read / max(result.elapsed_s, 1e-9):,.0f} events/s)"
    )
    return 0 if result.summary.accounted else 1
