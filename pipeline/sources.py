"""Sources chosen by config: a bounded file, a Kafka topic, a Kinesis stream, or Kafka and
Kinesis unioned. All yield raw record strings with event-time timestamps and watermarks,
each in an origin envelope naming where it came from (topic/partition/offset, stream/shard/
sequence number, file path/line; `pipeline/origin.py`) for the DLQ; `without_origin` strips
it (the raw zone keeps the records as received).

The Kinesis source is this repo's own FLIP-27 source (`src/main/java/io/fraudpipeline/
kinesis`, in the connector jar): Flink's AWS connector is not served by the build
machine's Maven mirror. It is reached through py4j and wrapped as a PyFlink `Source`.
"""

from __future__ import annotations

from pyflink.common import Types, WatermarkStrategy
from pyflink.datastream import DataStream, StreamExecutionEnvironment
from pyflink.datastream.connectors import Source
from pyflink.datastream.connectors.file_system import BulkFormat, FileSource
from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
from pyflink.java_gateway import get_gateway

from .config import PipelineConfig, SecurityConfig, SourceConfig
from .kafka_security import java_properties

# Where a Kinesis source starts when it has no checkpoint to restore.
_KINESIS_START = {"trim_horizon": "TRIM_HORIZON", "latest": "LATEST", "timestamp": "AT_TIMESTAMP"}


def kafka_source_name(s: SourceConfig) -> str:
    return f"kafka:{s.kafka_bootstrap_servers}/{s.kafka_topic}"


def kinesis_source_name(s: SourceConfig) -> str:
    return f"kinesis:{s.kinesis_endpoint or 'aws'}/{s.kinesis_stream}"


def source_name(cfg: PipelineConfig) -> str:
    """Where records come from, as DLQ records name it (both names for a union)."""
    s = cfg.source
    names = []
    if s.reads_kafka:
        names.append(kafka_source_name(s))
    if s.reads_kinesis:
        names.append(kinesis_source_name(s))
    return "+".join(names) if names else f"file:{cfg.resolve(s.path)}"


def watermark_strategy(s: SourceConfig) -> WatermarkStrategy:
    """Bounded out-of-orderness on each record's event_time, with idleness.

    The timestamp assigner is Java (`io.fraudpipeline.time.EventTimeAssigner`): a Python
    one would cost a JVM↔Python crossing per record. It reads `event_time` without parsing
    the record and never fails: a record without a readable time gets the previous one.
    """
    jvm = get_gateway().jvm
    j_strategy = jvm.org.apache.flink.api.common.eventtime.WatermarkStrategy
    strategy = j_strategy.forBoundedOutOfOrderness(
        jvm.java.time.Duration.ofMillis(s.watermark_out_of_orderness_ms)
    ).withTimestampAssigner(jvm.io.fraudpipeline.time.EventTimeAssigner.supplier(s.format))
    if s.watermark_idleness_ms > 0:
        strategy = strategy.withIdleness(jvm.java.time.Duration.ofMillis(s.watermark_idleness_ms))
    return WatermarkStrategy(strategy)


def kafka_source(s: SourceConfig, security: SecurityConfig) -> KafkaSource:
    if s.kafka_start == "timestamp":
        start = KafkaOffsetsInitializer.timestamp(s.start_timestamp_ms)
    else:
        start = {
            "earliest": KafkaOffsetsInitializer.earliest,
            "latest": KafkaOffsetsInitializer.latest,
            "committed": KafkaOffsetsInitializer.committed_offsets,
        }[s.kafka_start]()
    builder = (
        KafkaSource.builder()
        .set_bootstrap_servers(s.kafka_bootstrap_servers)
        .set_topics(s.kafka_topic)
        .set_group_id(s.kafka_group_id)
        .set_starting_offsets(start)
        # Offsets live in Flink's checkpoints; committing them back is for monitoring.
        .set_property("commit.offsets.on.checkpoint", "true")
        .set_property("isolation.level", "read_committed")
        # Kafka's consumer metrics (records-lag-max, …) under KafkaSourceReader.KafkaConsumer:
        # the backlog the lag alarm watches (default on; set so it stays on).
        .set_property("register.consumer.metrics", "true")
        .set_properties(java_properties(security))  # TLS / SASL ([security])
    )
    # The value as UTF-8 text in an origin envelope (topic, partition, offset); PyFlink's
    # builder only takes value-only deserializers, so set it on the Java builder.
    builder._j_builder.setDeserializer(
        get_gateway().jvm.io.fraudpipeline.origin.KafkaOriginDeserializer()
    )
    if s.kafka_bounded:
        builder = builder.set_bounded(KafkaOffsetsInitializer.latest())
    return builder.build()


def kinesis_source(s: SourceConfig, metric_group: str = "kinesisanalytics") -> Source:
    """The Kinesis stream as a FLIP-27 source: split = shard, checkpoint = sequence numbers.

    Each shard's MillisBehindLatest (from every GetRecords response) is a gauge
    `<metric_group>.shard_id.<shard>.millisBehindLatest` of the source operator.
    """
    jvm = get_gateway().jvm
    builder = (
        jvm.io.fraudpipeline.kinesis.KinesisStreamsSource.builder()
        .stream(s.kinesis_stream)
        .region(s.kinesis_region)
        .endpoint(s.kinesis_endpoint)
        .startPosition(_KINESIS_START[s.kinesis_start])
        .startTimestampMs(s.start_timestamp_ms)
        .bounded(s.kinesis_bounded)
        .pollIntervalMs(s.kinesis_poll_interval_ms)
        .maxRecordsPerPoll(s.kinesis_max_records_per_poll)
        .shardDiscoveryIntervalMs(s.kinesis_shard_discovery_interval_ms)
        # JSON instead of CBOR: moto and kinesalite only speak JSON, and AWS accepts both.
        .cborEnabled(False)
        .metricGroup(metric_group)
        .originEnvelope(True)
    )
    return Source(builder.build())


def raw_records(env: StreamExecutionEnvironment, cfg: PipelineConfig) -> DataStream:
    """The configured source(s) as one stream of raw record strings, with watermarks."""
    s = cfg.source
    watermarks = watermark_strategy(s)
    if s.kind == "file":
        # Text lines (UTF-8), each in an origin envelope with the file's path and line number.
        lines = BulkFormat(get_gateway().jvm.io.fraudpipeline.origin.OriginTextLineFormat())
        source = FileSource.for_bulk_file_format(lines, str(cfg.resolve(s.path))).build()
        return env.from_source(source, watermarks, "transactions-file").uid("transactions-file")
    if s.kind not in ("kafka", "kinesis", "kafka+kinesis"):
        raise ValueError(f"unknown source.kind {s.kind!r}")
    streams = []
    if s.reads_kafka:
        streams.append(
            env.from_source(kafka_source(s, cfg.security), watermarks, "transactions-kafka").uid(
                "transactions-kafka"
            )
        )
    if s.reads_kinesis:
        streams.append(
            env.from_source(
                kinesis_source(s, cfg.metrics.group), watermarks, "transactions-kinesis"
            ).uid("transactions-kinesis")
        )
    # A union keeps each source's per-partition / per-shard order; records of one wallet
    # arriving on both sources interleave in arrival order, as they would on any broker.
    return streams[0] if len(streams) == 1 else streams[0].union(*streams[1:])


def without_origin(records: DataStream) -> DataStream:
    """The records as received: the origin envelope stripped, in the JVM (no Python)."""
    j_strip = get_gateway().jvm.io.fraudpipeline.origin.StripOrigin()
    return DataStream(
        records._j_data_stream.map(j_strip, Types.STRING().get_java_type_info())
        .name("strip-origin")
        .uid("strip-origin")
    )
