"""The data lake the job writes, chosen by config: a local folder or an S3 prefix.

Zones under the lake root (prefixes from `[sink]`):

* raw/ingest_date=YYYY-MM-DD/hour=HH/  every record exactly as the source delivered it
  (one line per record), bucketed by the UTC time it reached the sink; row format.
* processed/event_date=YYYY-MM-DD/hour=HH/  scored, enriched events as Parquet (a Flink
  filesystem table, so auto-compaction can merge each checkpoint's files).
* quarantine/ingest_date=YYYY-MM-DD/hour=HH/  DLQ records (JSON lines, reason + original).
* alerts/, duplicates/  JSON lines (not zones of the lake proper).

Alerts and DLQ records can also go to Kafka (`[sink].kafka_alerts_enabled`,
`kafka_dlq_enabled`): a transactional KafkaSink per topic, exactly once — each
checkpoint's records are one Kafka transaction, committed when the checkpoint completes,
so consumers reading with isolation.level=read_committed see every record once.

Every sink is a Flink FileSink (or the filesystem table built on it): data written between
two checkpoints stays invisible (a hidden `.…inprogress` file locally, an unfinished
multipart upload on S3) and is published only when the checkpoint that covers it
completes, so after a crash and a restart from that checkpoint no partial or doubled file
is visible. Readers skip names starting with '.' or '_' (Flink's and Hadoop's convention
for in-progress, pending and marker files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyflink.common.serialization import Encoder
from pyflink.datastream import DataStream
from pyflink.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)
from pyflink.table import StreamTableEnvironment

from .config import PipelineConfig, SinkConfig
from .job import PipelineOutputs
from .schemas import processed_table_ddl

# Bucket of the raw and quarantine zones: the sink's wall-clock time in UTC ("ingest time").
INGEST_BUCKET_FORMAT = "'ingest_date='yyyy-MM-dd'/hour='HH"
_MB = 1024 * 1024


@dataclass(frozen=True)
class OutputPaths:
    """Where each output of a run lands on a local filesystem (or a local mirror of S3)."""

    root: Path
    raw_prefix: str = "raw"
    processed_prefix: str = "processed"
    quarantine_prefix: str = "quarantine"

    @property
    def raw(self) -> Path:
        return self.root / self.raw_prefix

    @property
    def processed(self) -> Path:
        return self.root / self.processed_prefix

    @property
    def alerts(self) -> Path:
        return self.root / "alerts"

    @property
    def dlq(self) -> Path:
        """The quarantine zone."""
        return self.root / self.quarantine_prefix

    @property
    def duplicates(self) -> Path:
        return self.root / "duplicates"

    def all(self) -> dict[str, Path]:
        return {
            "raw": self.raw,
            "processed": self.processed,
            "alerts": self.alerts,
            "dlq": self.dlq,
            "duplicates": self.duplicates,
        }


@dataclass(frozen=True)
class LakeLayout:
    """Where the job writes: a root (local folder or s3://bucket/prefix) and zone prefixes."""

    root: str
    raw_prefix: str
    processed_prefix: str
    quarantine_prefix: str

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    def uri(self, name: str) -> str:
        """The location Flink writes output `name` (raw | processed | dlq | alerts | duplicates)."""
        prefix = {
            "raw": self.raw_prefix,
            "processed": self.processed_prefix,
            "dlq": self.quarantine_prefix,
        }.get(name, name)
        return f"{self.root.rstrip('/')}/{prefix}"


def lake_layout(cfg: PipelineConfig) -> LakeLayout:
    s = cfg.sink
    if s.kind == "s3":
        root = s.s3_root
    elif s.kind == "local":
        root = str(cfg.resolve(s.output_dir))
    else:
        raise ValueError(f"unknown sink.kind {s.kind!r}")
    return LakeLayout(root, s.raw_prefix, s.processed_prefix, s.quarantine_prefix)


def output_paths(cfg: PipelineConfig) -> OutputPaths:
    """Local paths of a run's outputs: the lake itself (local), or the folder `run` mirrors
    the committed S3 objects into before summarising them (s3)."""
    s = cfg.sink
    return OutputPaths(
        cfg.resolve(s.output_dir), s.raw_prefix, s.processed_prefix, s.quarantine_prefix
    )


def json_lines_sink(path: str | Path, prefix: str, ingest_buckets: bool = False) -> FileSink:
    """Exactly-once JSON-lines files: part files become visible when a checkpoint completes."""
    assigner = (
        BucketAssigner.date_time_bucket_assigner(INGEST_BUCKET_FORMAT, "UTC")
        if ingest_buckets
        else BucketAssigner.base_path_bucket_assigner()
    )
    return (
        FileSink.for_row_format(str(path), Encoder.simple_string_encoder())
        .with_bucket_assigner(assigner)
        .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
        .with_output_file_config(
            OutputFileConfig.builder().with_part_prefix(prefix).with_part_suffix(".jsonl").build()
        )
        .build()
    )


def raw_zone_sink(path: str, cfg: PipelineConfig) -> FileSink:
    """The raw zone: each record as received plus a newline, bucketed by ingest date/hour.

    A row format may keep a part file open across checkpoints (its state is in the
    checkpoint and a restore truncates it to that point), so raw files roll on size, age
    or inactivity, not on every checkpoint: no flood of tiny files in the raw zone.
    """
    s = cfg.sink
    return (
        FileSink.for_row_format(path, Encoder.simple_string_encoder())
        .with_bucket_assigner(BucketAssigner.date_time_bucket_assigner(INGEST_BUCKET_FORMAT, "UTC"))
        .with_rolling_policy(
            RollingPolicy.default_rolling_policy(
                part_size=s.raw_rolling_file_size_mb * _MB,
                rollover_interval=s.rollover_interval_ms,
                inactivity_interval=s.rollover_interval_ms,
            )
        )
        # Age and inactivity are checked on this timer (Flink's default: every 60 s).
        .with_bucket_check_interval(min(60_000, s.rollover_interval_ms))
        .with_output_file_config(
            OutputFileConfig.builder().with_part_prefix("raw").with_part_suffix(".txt").build()
        )
        .build()
    )


def attach_raw_zone(raw: DataStream, layout: LakeLayout, cfg: PipelineConfig) -> None:
    """Write the source's records, before any parsing, to the raw zone."""
    raw.sink_to(raw_zone_sink(layout.uri("raw"), cfg)).name("raw-zone-sink").uid("raw-zone-sink")


def attach_sinks(
    t_env: StreamTableEnvironment, outputs: PipelineOutputs, layout: LakeLayout, cfg: PipelineConfig
) -> None:
    """Attach the lake sinks; the Table insert joins the DataStream job (one execute()).

    The processed zone's insert is planned before anything reads `outputs.alerts` (which
    plans the SQL rules), so its stateful operators keep their uids when rules are added
    (`PipelineOutputs.alerts`)."""
    s = cfg.sink
    t_env.execute_sql(
        processed_table_ddl(
            "processed_zone",
            layout.uri("processed"),
            s.processed_rolling_file_size_mb,
            s.rollover_interval_ms,
            s.processed_auto_compaction,
            s.processed_parquet_dictionary,
        )
    )
    statements = t_env.create_statement_set()
    statements.add_insert("processed_zone", outputs.processed)
    statements.attach_as_datastream()
    for name, stream, ingest_buckets in (
        ("alerts", outputs.alerts, False),
        ("dlq", outputs.dlq, True),
        ("duplicates", outputs.duplicates, False),
    ):
        stream.sink_to(json_lines_sink(layout.uri(name), name, ingest_buckets)).name(
            f"{name}-sink"
        ).uid(f"{name}-sink")
    attach_kafka_sinks(outputs, cfg)


def kafka_exactly_once_sink(s: SinkConfig, cfg: PipelineConfig, topic: str, name: str, key_field):
    """A transactional KafkaSink of JSON-line strings to `topic`: EXACTLY_ONCE, its own
    transactional.id prefix (`<prefix>-<name>`), the record as value and, if `key_field`
    is set, that JSON field as key (JVM: io.fraudpipeline.kafka.JsonFieldKeySerializer)."""
    from pyflink.common.serialization import SerializationSchema, SimpleStringSchema
    from pyflink.datastream.connectors.base import DeliveryGuarantee
    from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema, KafkaSink
    from pyflink.java_gateway import get_gateway

    from .kafka_security import java_properties

    record = KafkaRecordSerializationSchema.builder().set_topic(topic)
    record = record.set_value_serialization_schema(SimpleStringSchema())
    if key_field:
        j_key = get_gateway().jvm.io.fraudpipeline.kafka.JsonFieldKeySerializer(key_field)
        record = record.set_key_serialization_schema(SerializationSchema(j_key))
    builder = (
        KafkaSink.builder()
        .set_bootstrap_servers(s.kafka_bootstrap_servers)
        .set_record_serializer(record.build())
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
        .set_transactional_id_prefix(f"{s.kafka_transactional_id_prefix}-{name}")
        # below the broker's transaction.max.timeout.ms, or every transaction is refused
        .set_property("transaction.timeout.ms", str(s.kafka_transaction_timeout_ms))
        .set_property("enable.idempotence", "true")
        .set_property("acks", "all")
    )
    for key, value in java_properties(cfg.security).items():  # TLS / SASL ([security])
        builder = builder.set_property(key, value)
    return builder.build()


def attach_kafka_sinks(outputs: PipelineOutputs, cfg: PipelineConfig) -> None:
    """Alerts → `kafka_alerts_topic` (key = wallet_id) and DLQ records → `kafka_dlq_topic`,
    each only when enabled in `[sink]`."""
    s = cfg.sink
    for enabled, stream, topic, name, key_field in (
        (s.kafka_alerts_enabled, outputs.alerts, s.kafka_alerts_topic, "alerts", "wallet_id"),
        (s.kafka_dlq_enabled, outputs.dlq, s.kafka_dlq_topic, "dlq", None),
    ):
        if enabled:
            sink = kafka_exactly_once_sink(s, cfg, topic, name, key_field)
            stream.sink_to(sink).name(f"{name}-kafka-sink").uid(f"{name}-kafka-sink")
