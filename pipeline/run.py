"""Run the fraud job on a local Flink minicluster over the configured source.

A bounded source (a file, or Kafka/Kinesis read up to what they held at start-up) runs to
its end and is summarised; an unbounded one streams until the process is stopped.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from operators import compiled

from . import class_sharing
from .config import PipelineConfig, SecurityConfig
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
    from .control_function import attach_control_audit
    from .flink_env import create_environments
    from .jars import ensure_jars, pipeline_jars
    from .job import build_fraud_pipeline
    from .sinks import attach_raw_zone, attach_sinks
    from .sources import raw_records, without_origin

    ensure_jars()
    use_local_aws_credentials(cfg)
    env, t_env = create_environments(cfg, pipeline_jars())
    raw = raw_records(env, cfg)
    attach_raw_zone(without_origin(raw), layout, cfg)
    outputs = build_fraud_pipeline(t_env, raw, cfg, source_name(cfg))
    attach_sinks(t_env, outputs, layout, cfg)
    attach_control_audit(outputs, layout)
    return env


def use_local_aws_credentials(cfg: PipelineConfig) -> None:
    """Dummy credentials for the local stack's moto, before the JVM starts (never real keys)."""
    from . import stack

    if cfg.source.reads_kinesis and cfg.source.kinesis_endpoint == stack.MOTO_ENDPOINT:
        stack.local_aws_env()


def run_job(cfg: PipelineConfig, clean: bool = True) -> RunResult:
    """Run the job to the end of its bounded input and summarise the committed outputs.

    A run restored from a checkpoint (`flink.restore_path`) keeps the outputs already
    there: the restored sinks commit into them.
    """
    expected = expected_records(cfg) if counted_from_the_start(cfg) else None
    layout = lake_layout(cfg)
    paths = output_paths(cfg)
    if clean and not cfg.flink.restore_path and paths.root.exists():
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
    summary = summarize(paths, expected if expected is not None else 0)
    if expected is None:
        # Nothing independent to compare with: "read" is what the outputs account for.
        summary.events_read = summary.valid + summary.invalid + summary.duplicates_dropped
    return RunResult(summary, elapsed)


def counted_from_the_start(cfg: PipelineConfig) -> bool:
    """Whether a bounded run reads its sources from their beginning, so the records it will
    read can be counted beforehand (a file; Kafka earliest; Kinesis trim_horizon)."""
    s = cfg.source
    return (not s.reads_kafka or s.kafka_start == "earliest") and (
        not s.reads_kinesis or s.kinesis_start == "trim_horizon"
    )


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
    if not s.bounded:
        raise ValueError("only a bounded run can be counted (source.*_bounded = true)")
    total = 0
    if s.reads_kafka:
        if s.kafka_start != "earliest":
            raise ValueError("a counted Kafka run starts from the earliest offsets")
        total += kafka_topic_records(s.kafka_bootstrap_servers, s.kafka_topic, cfg.security)
    if s.reads_kinesis:
        if s.kinesis_start != "trim_horizon":
            raise ValueError("a counted Kinesis run starts from trim_horizon")
        use_local_aws_credentials(cfg)
        total += kinesis_stream_records(s.kinesis_stream, s.kinesis_endpoint, s.kinesis_region)
    return total


def kinesis_stream_records(stream: str, endpoint: str, region: str) -> int:
    """Records in a stream now: every shard read from TRIM_HORIZON to its tip.

    Kinesis has no end offsets, so this reads (like the job's bounded mode, which stops at
    the records that had arrived when it started); run it before the job.
    """
    import boto3

    client = boto3.client("kinesis", endpoint_url=endpoint or None, region_name=region)
    total = 0
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            total += len(page["Records"])
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            iterator = page.get("NextShardIterator")
    return total


def kafka_topic_records(
    bootstrap: str, topic: str, security: SecurityConfig | None = None, timeout_s: float = 10.0
) -> int:
    """Records in a topic now: sum over partitions of (high watermark - low watermark).
    `security`: the `[security]` settings to reach the broker with (None: PLAINTEXT)."""
    from confluent_kafka import Consumer, TopicPartition

    from .kafka_security import confluent_config

    conf = {"bootstrap.servers": bootstrap, "group.id": "fraud-pipeline-count"}
    if security is not None:
        conf.update(confluent_config(security))
    consumer = Consumer(conf)
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


def stream_job(cfg: PipelineConfig) -> None:
    """Run an unbounded job until the process is stopped; outputs commit every checkpoint."""
    paths = output_paths(cfg)
    env = build_job(cfg, lake_layout(cfg))
    print(
        f"streaming from {source_name(cfg)} until stopped (Ctrl-C); every "
        f"{cfg.flink.checkpoint_interval_ms / 1000:g} s a checkpoint commits new output:\n"
        + "\n".join(f"  {name:<11}{path}" for name, path in paths.all().items())
        + f"\n  checkpoints {cfg.resolve(cfg.flink.checkpoint_dir)} "
        "(restart from one with --set flink.restore_path=<chk-N folder>)"
        + f"\n  flink log  {cfg.resolve(cfg.flink.log_dir)}",
        file=sys.stderr,
        flush=True,
    )
    env.execute(JOB_NAME)


def main(cfg: PipelineConfig) -> int:
    if not cfg.source.bounded:
        try:
            stream_job(cfg)
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
        return 0
    print(
        f"running {JOB_NAME} on {source_name(cfg)} "
        f"(parallelism {cfg.flink.parallelism}, python {cfg.flink.python_execution_mode} mode; "
        f"per-record Python {compiled.status()}; JVM class-data archive "
        f"{class_sharing.status()})",
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
