"""Sources chosen by config: a bounded file, or a Kafka topic. Both yield raw strings."""

from __future__ import annotations

from pyflink.common import WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource

from .config import PipelineConfig
from .kafka_security import java_properties

# Offsets a Kafka source starts from when it has no checkpoint to restore.
_KAFKA_START = {
    "earliest": KafkaOffsetsInitializer.earliest,
    "latest": KafkaOffsetsInitializer.latest,
    "committed": KafkaOffsetsInitializer.committed_offsets,
}


def source_name(cfg: PipelineConfig) -> str:
    """Where records come from, as DLQ records name it."""
    s = cfg.source
    if s.kind == "kafka":
        return f"kafka:{s.kafka_bootstrap_servers}/{s.kafka_topic}"
    return f"file:{cfg.resolve(s.path)}"


def raw_records(env: StreamExecutionEnvironment, cfg: PipelineConfig) -> DataStream:
    """The configured source as a stream of raw record strings.

    Watermarks are not assigned here: the keyed operator works on each event's own time;
    event-time attributes for SQL rules come with issue 3/5.
    """
    s = cfg.source
    if s.kind == "file":
        source = FileSource.for_record_stream_format(
            StreamFormat.text_line_format(), str(cfg.resolve(s.path))
        ).build()
        name = "transactions-file"
    elif s.kind == "kafka":
        builder = (
            KafkaSource.builder()
            .set_bootstrap_servers(s.kafka_bootstrap_servers)
            .set_topics(s.kafka_topic)
            .set_group_id(s.kafka_group_id)
            .set_starting_offsets(_KAFKA_START[s.kafka_start]())
            .set_value_only_deserializer(SimpleStringSchema())
            # Offsets live in Flink's checkpoints; committing them back is for monitoring.
            .set_property("commit.offsets.on.checkpoint", "true")
            .set_property("isolation.level", "read_committed")
            .set_properties(java_properties(cfg.security))  # TLS / SASL ([security])
        )
        if s.kafka_bounded:
            builder = builder.set_bounded(KafkaOffsetsInitializer.latest())
        source = builder.build()
        name = "transactions-kafka"
    else:
        raise ValueError(f"unknown source.kind {s.kind!r}")
    return env.from_source(source, WatermarkStrategy.no_watermarks(), name).uid(name)
