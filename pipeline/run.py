"""Run the fraud job on a local Flink minicluster over the configured bounded source."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass

from .config import PipelineConfig
from .sinks import OutputPaths, output_paths
from .sources import source_name
from .summary import RunSummary, count_input_records, summarize

JOB_NAME = "crypto-fraud-detection"


@dataclass(frozen=True)
class RunResult:
    summary: RunSummary
    elapsed_s: float


def build_job(cfg: PipelineConfig, paths: OutputPaths):
    """Create the environments and the whole job graph; returns the stream environment."""
    from .flink_env import create_environments
    from .jars import ensure_jars, pipeline_jars
    from .job import build_fraud_pipeline
    from .sinks import attach_sinks
    from .sources import raw_records

    ensure_jars()
    env, t_env = create_environments(cfg, pipeline_jars())
    outputs = build_fraud_pipeline(t_env, raw_records(env, cfg), cfg, source_name(cfg))
    attach_sinks(t_env, outputs, paths, cfg)
    return env


def run_job(cfg: PipelineConfig, clean: bool = True) -> RunResult:
    """Run the job to the end of its bounded input and summarise the committed outputs."""
    expected = expected_records(cfg)
    paths = output_paths(cfg)
    if clean and paths.root.exists():
        shutil.rmtree(paths.root)
    env = build_job(cfg, paths)
    start = time.perf_counter()
    env.execute(JOB_NAME)
    elapsed = time.perf_counter() - start
    return RunResult(summarize(paths, expected), elapsed)


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
    print(f"  flink log   {cfg.resolve(cfg.flink.log_dir)}")
    print(
        f"job time {result.elapsed_s:.1f} s "
        f"({result.summary.events_read / max(result.elapsed_s, 1e-9):,.0f} events/s)"
    )
    return 0 if result.summary.accounted else 1
