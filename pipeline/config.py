"""The pipeline's one typed, frozen configuration object.

Loaded once: defaults from `flink-conf/pipeline.toml`, then environment variables
`FRAUD_<SECTION>_<KEY>` (nested sections joined with `_`), then explicit overrides (e.g.
Managed Flink application properties or a test's dict). Unknown or missing keys are an
error at load time, not a `None` that fails later.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from operators.dedupe import DedupeConfig
from operators.detectors import CONFIG_CLASSES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_FILE = PROJECT_ROOT / "flink-conf" / "pipeline.toml"
ENV_PREFIX = "FRAUD_"


SOURCE_KINDS = ("file", "kafka", "kinesis", "kafka+kinesis")


class ConfigError(ValueError):
    """The configuration is incomplete, has unknown keys or values of the wrong type."""


@dataclass(frozen=True, slots=True)
class SourceConfig:
    kind: str  # file | kafka | kinesis | kafka+kinesis
    path: str
    format: str  # csv | jsonl
    kafka_bootstrap_servers: str
    kafka_topic: str
    kafka_group_id: str
    kafka_start: str  # earliest | latest | committed | timestamp
    kafka_bounded: bool
    kinesis_stream: str
    kinesis_region: str
    kinesis_endpoint: str  # '' = AWS itself
    kinesis_start: str  # trim_horizon | latest | timestamp
    kinesis_bounded: bool
    kinesis_poll_interval_ms: int
    kinesis_max_records_per_poll: int  # GetRecords Limit, 1..10000
    kinesis_shard_discovery_interval_ms: int
    start_timestamp_ms: int  # for kafka_start / kinesis_start = timestamp
    watermark_out_of_orderness_ms: int
    watermark_idleness_ms: int  # 0 = never mark a source idle
    max_record_bytes: int

    @property
    def reads_kafka(self) -> bool:
        return self.kind in ("kafka", "kafka+kinesis")

    @property
    def reads_kinesis(self) -> bool:
        return self.kind in ("kinesis", "kafka+kinesis")

    @property
    def bounded(self) -> bool:
        """Whether a run ends by itself: a file, or every broker source bounded."""
        if self.kind == "file":
            return True
        return (not self.reads_kafka or self.kafka_bounded) and (
            not self.reads_kinesis or self.kinesis_bounded
        )


@dataclass(frozen=True, slots=True)
class SinkConfig:
    kind: str  # local | s3: where the lake lives
    output_dir: str
    s3_root: str  # s3://bucket/prefix of the lake (kind = s3)
    s3_endpoint: str  # '' = AWS's own endpoint
    s3_path_style_access: bool
    raw_prefix: str
    processed_prefix: str
    quarantine_prefix: str
    processed_rolling_file_size_mb: int
    processed_auto_compaction: bool
    processed_parquet_dictionary: bool  # dictionary-encode the processed Parquet columns
    raw_rolling_file_size_mb: int
    rollover_interval_ms: int
    kafka_alerts_enabled: bool  # alerts -> Kafka, exactly once
    kafka_dlq_enabled: bool  # DLQ records -> Kafka, exactly once
    kafka_bootstrap_servers: str
    kafka_alerts_topic: str
    kafka_dlq_topic: str
    kafka_transactional_id_prefix: str
    kafka_transaction_timeout_ms: int


@dataclass(frozen=True, slots=True)
class ReferenceConfig:
    dir: str
    wallets_file: str


@dataclass(frozen=True, slots=True)
class ValidationConfig:
    min_event_time_ms: int
    max_future_skew_ms: int
    max_amount: float
    allowed_lateness_ms: int  # behind the wallet's newest event time; older new events: too_late


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """Kafka TLS/SASL and the AWS role. Secrets: only names of environment variables."""

    kafka_protocol: str  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    kafka_sasl_mechanism: str  # SCRAM-SHA-256 | SCRAM-SHA-512 | PLAIN | AWS_MSK_IAM
    kafka_sasl_username: str
    kafka_sasl_password_env: str
    kafka_ssl_truststore_path: str
    kafka_ssl_truststore_type: str  # PEM | JKS | PKCS12
    kafka_ssl_truststore_password_env: str
    kafka_ssl_keystore_path: str
    kafka_ssl_keystore_password_env: str
    kafka_ssl_verify_hostname: bool
    aws_region: str
    aws_role_arn: str
    aws_role_session_name: str
    aws_sts_endpoint: str


@dataclass(frozen=True, slots=True)
class FlinkConfig:
    parallelism: int
    python_execution_mode: str  # thread | process
    bundle_size: int
    bundle_time_ms: int
    checkpoint_interval_ms: int
    alerts_audit_operator: bool  # insert the pass-through `alerts-audit` operator
    checkpoint_dir: str
    restore_path: str  # '' = fresh start; else a retained checkpoint (chk-N) or savepoint
    restore_ignore_unclaimed_state: bool  # restore even if some saved state has no operator
    state_backend: str  # hashmap | rocksdb
    log_dir: str
    wallet_state_ttl_ms: int
    state_shards: int
    batch_max_records: int
    batch_max_delay_ms: int


@dataclass(frozen=True, slots=True)
class ModelConfig:
    path: str
    version_file: str


@dataclass(frozen=True, slots=True)
class DecisionConfig:
    rules_version: str
    alert_score_threshold: float
    critical_score_threshold: float


@dataclass(frozen=True, slots=True)
class WarehouseConfig:
    kind: str  # postgres | redshift
    host: str
    port: int
    database: str
    user: str
    password_env: str  # name of the environment variable holding the password
    schema: str
    connect_timeout_s: int
    iam_role: str
    alerts_prefix: str
    quarantine_prefix: str  # the warehouse's own, beside the lake's zones
    manifest_prefix: str
    poll_interval_s: float
    retry_initial_backoff_s: float
    retry_max_backoff_s: float
    retry_max_attempts: int
    copy_batch_rows: int
    load_workers: int  # objects loaded at once (PostgreSQL; Redshift loads one at a time)
    pgbouncer_port: int
    redshift_sslmode: str  # verify-full | verify-ca | disable
    # The lake the loader reads is the lake the job writes: these come from [sink]
    # (`lake_facts`), not from keys of [warehouse], so each fact has one place.
    lake_root: str  # sink.s3_root (sink.kind = s3) or sink.output_dir (local)
    processed_prefix: str  # sink.processed_prefix + "/"
    s3_endpoint_url: str  # sink.s3_endpoint
    s3_path_style: bool  # sink.s3_path_style_access


def lake_facts(sink: SinkConfig) -> dict[str, Any]:
    """The [warehouse] fields that [sink] holds: where the job's lake is and how to reach it."""
    return {
        "lake_root": sink.s3_root if sink.kind == "s3" else sink.output_dir,
        "processed_prefix": sink.processed_prefix.strip("/") + "/",
        "s3_endpoint_url": sink.s3_endpoint,
        "s3_path_style": sink.s3_path_style_access,
    }


# Keys that moved to [sink]: setting the old variable is an error, not silently ignored.
_MOVED_ENV = {
    "FRAUD_WAREHOUSE_LAKE_ROOT": "FRAUD_SINK_KIND + FRAUD_SINK_S3_ROOT / FRAUD_SINK_OUTPUT_DIR",
    "FRAUD_WAREHOUSE_PROCESSED_PREFIX": "FRAUD_SINK_PROCESSED_PREFIX",
    "FRAUD_WAREHOUSE_S3_ENDPOINT_URL": "FRAUD_SINK_S3_ENDPOINT",
}


@dataclass(frozen=True, slots=True)
class RulesConfig:
    dir: str  # folder of the SQL rule files (*.sql), relative to the project root
    enabled: bool  # run the SQL rules in the job
    watermark_out_of_orderness_ms: int  # bounded out-of-orderness of the rules' view, ms
    rules_version: str  # prefix of the rules version recorded in SQL-rule alerts


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """Runtime settings from a Kafka control topic (README "Changing settings at runtime")."""

    enabled: bool  # read the control topic and apply its updates in the job
    topic: str
    bootstrap_servers: str  # "" = source.kafka_bootstrap_servers

    def bootstrap(self, source: SourceConfig) -> str:
        return self.bootstrap_servers or source.kafka_bootstrap_servers


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    group: str  # metric group every pipeline metric lives under (kinesisanalytics on MSF)
    flush_interval_ms: int
    enabled: bool  # false = the job counts nothing (the overhead benchmark's baseline)
    prometheus_ports: str  # port or range for the local Prometheus reporter; "" = none
    samples_file: str
    scrape_interval_ms: int


@dataclass(frozen=True, slots=True)
class AlarmsConfig:
    prometheus_url: str  # "" = the first port of metrics.prometheus_ports on 127.0.0.1
    sns_topic: str
    aws_endpoint_url: str  # "" = real AWS
    aws_region: str
    evaluation_interval_ms: int
    stall_after_ms: int
    max_consumer_lag_records: int
    max_millis_behind_latest_ms: int
    max_error_rate: float
    error_rate_min_events: int
    alert_spike_factor: float
    alert_spike_min_alerts: int
    ewma_alpha: float
    rate_limit_ms: int
    cloudwatch_namespace: str
    application_name: str


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    dir: str
    rest_port: int
    prometheus_ports: str
    taskmanager_slots: int
    jobmanager_memory: str
    taskmanager_memory: str


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    source: SourceConfig
    sink: SinkConfig
    reference: ReferenceConfig
    validation: ValidationConfig
    dedupe: DedupeConfig
    flink: FlinkConfig
    model: ModelConfig
    decision: DecisionConfig
    warehouse: WarehouseConfig
    rules: RulesConfig
    control: ControlConfig
    metrics: MetricsConfig
    alarms: AlarmsConfig
    cluster: ClusterConfig
    security: SecurityConfig
    detectors: Mapping[str, Any]  # rule_id -> that detector's config dataclass

    def resolve(self, path: str) -> Path:
        """A configured path, relative to the project root unless absolute."""
        p = Path(path)
        return p if p.is_absolute() else PROJECT_ROOT / p

    def reference_file(self, name: str) -> Path:
        """A reference data file, relative to `[reference].dir` unless absolute."""
        p = Path(name)
        return p if p.is_absolute() else self.resolve(self.reference.dir) / p


_SECTIONS = {
    "source": SourceConfig,
    "sink": SinkConfig,
    "reference": ReferenceConfig,
    "validation": ValidationConfig,
    "dedupe": DedupeConfig,
    "flink": FlinkConfig,
    "model": ModelConfig,
    "decision": DecisionConfig,
    "warehouse": WarehouseConfig,
    "rules": RulesConfig,
    "control": ControlConfig,
    "metrics": MetricsConfig,
    "alarms": AlarmsConfig,
    "cluster": ClusterConfig,
    "security": SecurityConfig,
}


def load_config(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    defaults_file: Path = DEFAULTS_FILE,
) -> PipelineConfig:
    """Build the config: TOML defaults, then `FRAUD_*` environment, then `overrides`.

    `overrides` keys are dotted paths such as ``"flink.parallelism"`` or
    ``"detectors.velocity_burst.min_count"``.
    """
    return _build(effective_values(overrides, environ, defaults_file))


def effective_values(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    defaults_file: Path = DEFAULTS_FILE,
) -> dict[str, Any]:
    """Every dotted key with the value in force after the environment and `overrides`."""
    env = os.environ if environ is None else environ
    moved = [f"{name} (now {where})" for name, where in _MOVED_ENV.items() if name in env]
    if moved:
        raise ConfigError(f"the loader reads the job's lake from [sink]: unset {', '.join(moved)}")
    from .stack import config_defaults  # endpoints of a local stack on its own ports

    flat = config_defaults(config_keys(defaults_file), env)
    for dotted in list(flat):
        name = env_var_name(dotted)
        if name in env:
            flat[dotted] = _coerce(dotted, env[name], flat[dotted])
    for dotted, value in (overrides or {}).items():
        if dotted not in flat:
            raise ConfigError(f"unknown config key {dotted!r}")
        flat[dotted] = _coerce(dotted, value, flat[dotted])
    return flat


def config_keys(defaults_file: Path = DEFAULTS_FILE) -> dict[str, Any]:
    """Every dotted key with its default: what the README's config table lists."""
    with open(defaults_file, "rb") as f:
        return dict(_flatten(tomllib.load(f)))


_SECRET_WORDS = ("password", "secret", "token", "credential")


def printable_value(dotted: str, value: Any) -> Any:
    """`value` as it may be printed: masked when the key looks like a secret. Keys ending
    in `_env` only name an environment variable and are shown."""
    name = dotted.rsplit(".", 1)[-1].lower()
    if value and not name.endswith("_env") and any(w in name for w in _SECRET_WORDS):
        return "********"
    return value


def env_var_name(dotted: str) -> str:
    return ENV_PREFIX + dotted.replace(".", "_").upper()


def _flatten(tree: Mapping[str, Any], prefix: str = ""):
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


def _coerce(dotted: str, value: Any, default: Any) -> Any:
    """Convert an override (often a string from the environment) to the default's type."""
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(value, bool):
            raise ValueError(value)  # int(True) == 1: a flag is no number
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)  # int(2.5) would silently truncate
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{dotted}: cannot use {value!r} (expected {type(default).__name__})"
        ) from None


def _section(flat: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)}


def _construct(cls: type, values: dict[str, Any], where: str):
    fields = {f.name for f in dataclasses.fields(cls)}
    missing, unknown = sorted(fields - set(values)), sorted(set(values) - fields)
    if missing or unknown:
        raise ConfigError(f"[{where}]: missing keys {missing}, unknown keys {unknown}")
    return cls(**values)


def _build(flat: Mapping[str, Any]) -> PipelineConfig:
    sections: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        values = _section(flat, name + ".")
        if name == "warehouse":
            values.update(lake_facts(sections["sink"]))
        sections[name] = _construct(cls, values, name)
    detectors = {}
    for rule_id, cls in CONFIG_CLASSES.items():
        detectors[rule_id] = _construct(
            cls, _section(flat, f"detectors.{rule_id}."), f"detectors.{rule_id}"
        )
    known = {f"detectors.{r}." for r in CONFIG_CLASSES} | {f"{s}." for s in _SECTIONS}
    stray = sorted(k for k in flat if not any(k.startswith(p) for p in known))
    if stray:
        raise ConfigError(f"unknown config keys {stray}")
    cfg = PipelineConfig(detectors=detectors, **sections)
    _check(cfg)
    return cfg


def _check(cfg: PipelineConfig) -> None:
    from .kafka_security import check as check_security  # it imports this module

    check_security(cfg.security)
    if cfg.warehouse.redshift_sslmode not in ("verify-full", "verify-ca", "disable"):
        raise ConfigError("warehouse.redshift_sslmode must be verify-full, verify-ca or disable")
    s = cfg.source
    if s.kind not in SOURCE_KINDS:
        raise ConfigError(f"source.kind must be one of {', '.join(SOURCE_KINDS)}, not {s.kind!r}")
    if s.kafka_start not in ("earliest", "latest", "committed", "timestamp"):
        raise ConfigError("source.kafka_start must be earliest, latest, committed or timestamp")
    if s.kinesis_start not in ("trim_horizon", "latest", "timestamp"):
        raise ConfigError("source.kinesis_start must be trim_horizon, latest or timestamp")
    starts_at_time = (s.reads_kafka and s.kafka_start == "timestamp") or (
        s.reads_kinesis and s.kinesis_start == "timestamp"
    )
    if starts_at_time and s.start_timestamp_ms <= 0:
        raise ConfigError("a timestamp start needs source.start_timestamp_ms (epoch ms > 0)")
    if s.watermark_out_of_orderness_ms < 0 or s.watermark_idleness_ms < 0:
        raise ConfigError("source.watermark_* must be >= 0")
    if s.kinesis_poll_interval_ms < 1 or s.kinesis_shard_discovery_interval_ms < 1:
        raise ConfigError("source.kinesis_*_interval_ms must be >= 1")
    if not 1 <= s.kinesis_max_records_per_poll <= 10_000:
        raise ConfigError("source.kinesis_max_records_per_poll must be within 1..10000")
    if cfg.sink.kafka_transaction_timeout_ms < cfg.flink.checkpoint_interval_ms:
        # a transaction spans a checkpoint interval; shorter, it would time out every time
        raise ConfigError("sink.kafka_transaction_timeout_ms must be >= the checkpoint interval")
    if cfg.sink.kind not in ("local", "s3"):
        raise ConfigError(f"sink.kind must be local or s3, not {cfg.sink.kind!r}")
    if cfg.sink.kind == "s3" and not cfg.sink.s3_root.startswith("s3://"):
        raise ConfigError(f"sink.s3_root must be s3://bucket/prefix, not {cfg.sink.s3_root!r}")
    prefixes = (cfg.sink.raw_prefix, cfg.sink.processed_prefix, cfg.sink.quarantine_prefix)
    if len(set(prefixes)) != 3 or any(not p or p.startswith((".", "_", "/")) for p in prefixes):
        # '.'/'_' names are hidden from readers (in-progress files), so a zone there is lost.
        raise ConfigError(f"sink zone prefixes must be distinct visible names, not {prefixes}")
    if cfg.source.format not in ("csv", "jsonl"):
        raise ConfigError(f"source.format must be csv or jsonl, not {cfg.source.format!r}")
    if cfg.flink.python_execution_mode not in ("thread", "process"):
        raise ConfigError("flink.python_execution_mode must be thread or process")
    if cfg.flink.state_backend not in ("hashmap", "rocksdb"):
        raise ConfigError("flink.state_backend must be hashmap or rocksdb")
    if cfg.flink.parallelism < 1:
        raise ConfigError("flink.parallelism must be >= 1")
    if cfg.metrics.prometheus_ports and _port_range(cfg.metrics.prometheus_ports) & _port_range(
        cfg.cluster.prometheus_ports
    ):
        raise ConfigError("metrics.prometheus_ports and cluster.prometheus_ports must not overlap")
    if not 0 < cfg.alarms.ewma_alpha <= 1:
        raise ConfigError("alarms.ewma_alpha must be in (0, 1]")
    for key in ("state_shards", "batch_max_records", "batch_max_delay_ms"):
        if getattr(cfg.flink, key) < 1:
            raise ConfigError(f"flink.{key} must be >= 1")
    if cfg.warehouse.kind not in ("postgres", "redshift"):
        raise ConfigError(
            f"warehouse.kind must be postgres or redshift, not {cfg.warehouse.kind!r}"
        )
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", cfg.warehouse.schema):
        raise ConfigError(
            f"warehouse.schema must be a lower-case SQL name: {cfg.warehouse.schema!r}"
        )
    if cfg.warehouse.retry_initial_backoff_s <= 0 or cfg.warehouse.retry_max_attempts < 0:
        raise ConfigError("warehouse.retry_*: backoff must be > 0 and max_attempts >= 0")
    if not 1 <= cfg.warehouse.load_workers <= 16:
        raise ConfigError(f"warehouse.load_workers must be 1..16, not {cfg.warehouse.load_workers}")
    _check_warehouse_prefixes(cfg)
    if cfg.rules.watermark_out_of_orderness_ms < 0:
        raise ConfigError("rules.watermark_out_of_orderness_ms must be >= 0")
    lateness = cfg.validation.allowed_lateness_ms
    if not 0 <= lateness <= cfg.dedupe.window_ms:
        # Beyond the dedupe window a resend of an accepted event could be forgotten and
        # processed twice; within it, every resend is either recognised or too late.
        raise ConfigError(
            f"validation.allowed_lateness_ms must be between 0 and dedupe.window_ms "
            f"({cfg.dedupe.window_ms}), not {lateness}"
        )
    check_detectors(cfg.detectors)
    if cfg.control.enabled and not cfg.control.topic:
        raise ConfigError("control.topic must name the control topic when control.enabled")


def check_detectors(detectors: Mapping[str, Any]) -> None:
    """Ranges of the detector thresholds; also checks runtime updates (pipeline/control*.py).

    Counts and windows are positive, amounts and distances not negative, ratios in [0, 1]
    (a lower bound not above its upper bound), and a cap never below the count it needs.
    """
    for rule_id, det in detectors.items():
        where = f"detectors.{rule_id}"
        for f in dataclasses.fields(det):
            value = getattr(det, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if value != value or value in (float("inf"), float("-inf")):
                raise ConfigError(f"{where}.{f.name} must be a finite number, not {value}")
            positive = f.name.endswith(("_ms", "_count", "max_entries", "_counterparties"))
            if positive and value < 1:
                raise ConfigError(f"{where}.{f.name} must be >= 1, not {value}")
            if value < 0:
                raise ConfigError(f"{where}.{f.name} must be >= 0, not {value}")
            if f.name.endswith("_ratio") and value > 1:
                raise ConfigError(f"{where}.{f.name} must be between 0 and 1, not {value}")
        for low, high in (
            ("onward_min_ratio", "onward_max_ratio"),
            ("peel_min_ratio", "peel_max_ratio"),
        ):
            if hasattr(det, low) and getattr(det, low) > getattr(det, high):
                raise ConfigError(f"{where}: {low} must not exceed {high}")
        # A cap below the count would silently disable the detector.
        need = getattr(det, "min_count", None) or getattr(det, "min_distinct_counterparties", None)
        cap = getattr(det, "max_entries", None)
        if need and cap and cap < need:
            raise ConfigError(f"{where}: max_entries {cap} < the count {need} it needs")


def _check_warehouse_prefixes(cfg: PipelineConfig) -> None:
    """The warehouse's quarantine is a place of its own, not inside a zone of the job."""
    q = cfg.warehouse.quarantine_prefix
    s = cfg.sink
    zones = [p.strip("/") + "/" for p in (s.raw_prefix, s.processed_prefix, s.quarantine_prefix)]
    zones.append(cfg.warehouse.alerts_prefix.strip("/") + "/")
    if not q.endswith("/") or q.startswith((".", "_", "/")):
        raise ConfigError(
            f"warehouse.quarantine_prefix must be a visible folder ending in '/', not {q!r}"
        )
    inside = [z for z in zones if q.startswith(z) or z.startswith(q)]
    if inside:
        raise ConfigError(
            f"warehouse.quarantine_prefix {q!r} overlaps the lake's {inside}: give it its own"
        )


def _port_range(spec: str) -> set[int]:
    """The ports of a Flink port spec: "9250", "9250-9259" or "9250,9252"."""
    ports: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            low, _, high = part.partition("-")
            ports.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise ConfigError(f"bad port range {spec!r} (expected e.g. 9250-9259)") from None
    return ports
