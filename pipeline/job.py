"""The job graph as a pure function from a stream of raw records to the job's outputs.

`build_fraud_pipeline` wires operators only; `pipeline/run.py` attaches real sources and
sinks, and tests attach in-memory ones to the same builder.

The Python boundary is the cost (docs/toolchain-notes.md): a record crossing from the JVM
into a Python function costs more than most of the work done on it there. So:
- the JVM extracts each record's wallet key (SQL, no Python) and, for internal transfers,
  a mirrored copy keyed by the receiving wallet;
- a JVM operator (`ShardBatcher`) groups records into micro-batches per state shard
  (shard = hash of the wallet id), flushed by size, by age and before every checkpoint
  barrier, so a batch is never in flight across a checkpoint;
- one keyed Python function per shard batch runs validate → dedupe → enrich → detect →
  features for each record, scores the whole batch with one ONNX call and decides; its
  per-wallet state is a MapState under the shard key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from pyflink.common import Types
from pyflink.datastream import DataStream, KeyedStream
from pyflink.java_gateway import get_gateway
from pyflink.table import Schema, StreamTableEnvironment, Table

from operators.event import EVENT_FIELDS

from .components import Components
from .config import PipelineConfig
from .control_function import CONTROL_AUDIT_TAG, ControlWiring, topic_wiring
from .functions import (
    ALERTS_TAG,
    DLQ_TAG,
    DUPLICATES_TAG,
    WalletRiskFunction,
)
from .packed_rows import PACKED_ROW_TYPE, decoded_rows
from .schemas import KEYED_RECORD_TYPE, SHARD_BATCH_TYPE, SHARD_KEYED_TYPE
from .sql_rules import sql_rule_alerts

CSV_HEADER = ",".join(EVENT_FIELDS)

# The wallet key of every record, plus a second (mirrored) copy of internal transfers keyed
# by the receiving wallet, extracted in the JVM. Both copies come out of one UNNEST, right
# after each other, so every wallet sees its records in source order (a UNION ALL of two
# queries would merge two network channels and reorder them). Records whose key cannot be
# read get '' and are rejected, with a reason, by the keyed operator's validation.
# The keys are read from the record without its origin envelope (`pipeline/origin.py`); the
# record goes on with it, for the DLQ.
_CSV_MIRROR_KEY = """CASE WHEN SPLIT_INDEX(f0, ',', 2) = 'transfer'
      AND SPLIT_INDEX(f0, ',', 4) <> ''
      AND SPLIT_INDEX(f0, ',', 4) <> COALESCE(SPLIT_INDEX(f0, ',', 3), '')
    THEN SPLIT_INDEX(f0, ',', 4) END"""
_JSON_MIRROR_KEY = """CASE WHEN JSON_VALUE(f0, '$.tx_type') = 'transfer'
      AND JSON_VALUE(f0, '$.counterparty_wallet') <> ''
      AND JSON_VALUE(f0, '$.counterparty_wallet') <> COALESCE(JSON_VALUE(f0, '$.wallet_id'), '')
    THEN JSON_VALUE(f0, '$.counterparty_wallet') END"""
_KEY_SQL = """
SELECT c.k AS wallet, enveloped AS `raw`, c.mirrored
FROM (
  SELECT f0 AS enveloped,
    CASE WHEN SUBSTRING(f0, 1, 1) = CHR(1) THEN SUBSTRING(f0, LOCATE(CHR(1), f0, 2) + 1)
    ELSE f0 END AS f0
  FROM `{view}`
)
CROSS JOIN UNNEST(ARRAY[
  ROW(COALESCE({own_key}, ''), FALSE),
  ROW({mirror_key}, TRUE)
]) AS c(k, mirrored)
WHERE c.k IS NOT NULL{header_filter}
"""


def key_extraction_sql(fmt: str, view: str) -> str:
    """The key-extraction query for a source format (csv | jsonl)."""
    if fmt == "csv":
        return _KEY_SQL.format(
            view=view,
            own_key="SPLIT_INDEX(f0, ',', 3)",
            mirror_key=_CSV_MIRROR_KEY,
            header_filter=f" AND f0 <> '{CSV_HEADER}'",
        )
    return _KEY_SQL.format(
        view=view,
        own_key="JSON_VALUE(f0, '$.wallet_id')",
        mirror_key=_JSON_MIRROR_KEY,
        header_filter="",
    )


@dataclass(frozen=True)
class PipelineOutputs:
    """What the job produces, before sinks are attached."""

    processed: Table  # processed-zone rows plus `event_date` / `hour` partition columns
    build_alerts: Callable[[], DataStream]  # plans the SQL rules; use `alerts`
    dlq: DataStream  # DLQ record JSON lines
    duplicates: DataStream  # one JSON line per dropped resend
    control_audit: DataStream | None = None  # one JSON line per control update ([control])

    @cached_property
    def alerts(self) -> DataStream:
        """Alert JSON lines: the Python detectors' and the SQL rules'.

        The SQL rules are planned on first use, so a caller can plan the processed zone's
        sink first (`sinks.attach_sinks` does): the planner numbers its nodes in planning
        order and the uids of the sink's stateful operators (file writer, compaction,
        commit) carry those numbers, so planned after the rules they would change with
        every added rule, and a savepoint would not restore into the job with one more rule.
        """
        return self.build_alerts()


def build_fraud_pipeline(
    t_env: StreamTableEnvironment,
    raw: DataStream,
    cfg: PipelineConfig,
    source_name: str,
    control: DataStream | None = None,
) -> PipelineOutputs:
    """Wire the fraud pipeline over `raw` (a stream of raw records as strings).

    With `[control].enabled`, the settings updates of `control` (default: the control
    topic, `pipeline/control_function.py`) are broadcast to the wallet-risk function and to
    the SQL rules' alerts."""
    stable_table_uids(t_env)
    view = "raw_records"
    # SOURCE_WATERMARK(): without a watermark in its schema the table's input conversion
    # drops the source's watermarks, and event time stops here (the SQL rules' windows and
    # patterns then fire only at the end of a bounded input, never on a stream).
    source_watermarks = (
        Schema.new_builder()
        .column_by_metadata("rowtime", "TIMESTAMP_LTZ(3)")
        .watermark("rowtime", "SOURCE_WATERMARK()")
        .build()
    )
    t_env.create_temporary_view(view, t_env.from_data_stream(raw, source_watermarks))
    keyed_table = t_env.sql_query(key_extraction_sql(cfg.source.format, view))
    # to_append_stream (not to_data_stream) yields the RowTypeInfo Python operators accept.
    records = t_env.to_append_stream(keyed_table, KEYED_RECORD_TYPE)
    batches = _shard_batches(records, cfg)

    if cfg.control.enabled:
        env = raw.get_execution_environment()
        controls = ControlWiring(cfg, control) if control else topic_wiring(env, cfg)
        decided = controls.wallet_risk(batches, source_name)
    else:
        controls = None
        decided = batches.process(WalletRiskFunction(cfg, source_name), output_type=PACKED_ROW_TYPE)
    decided = (
        decided.name("wallet-risk")
        .uid("wallet-risk")
        # Its own task: the operators after it (Parquet writer, JSON-lines sinks, SQL
        # rules) run on another thread, hence core. Chained, they took a third of this
        # task's thread, the job's bottleneck (per-thread CPU: 32.7 s -> 21.9 s on 300k).
        .disable_chaining()
    )
    python_alerts = _side_output(decided, ALERTS_TAG)
    # rescale: a 1:1 channel at equal parallelism that Flink never chains across, so the
    # row decoding, the processed zone's conversion and Parquet writer stay off the keyed
    # function's thread even where `disable_chaining` does not reach: with [control] the
    # function is a keyed broadcast operator, whose transformation drops the setting (its
    # job graph had the Parquet writer chained to wallet-risk; tests/pipeline/test_job_graph.py).
    processed_rows = decoded_rows(decided.rescale())

    def build_alerts() -> DataStream:
        # Python detectors' alerts, plus the alerts of the SQL rules in [rules].dir (issue
        # 5), which run over the same processed stream as a view with event time.
        alerts = python_alerts
        sql_alerts = sql_rule_alerts(t_env, processed_rows, cfg, Components(cfg).model_version)
        if sql_alerts is not None:
            if controls is not None:
                sql_alerts = controls.sql_alerts(sql_alerts)
            alerts = alerts.union(sql_alerts)
        return with_alerts_audit(alerts, cfg)

    processed_view = "processed_events"
    t_env.create_temporary_view(processed_view, t_env.from_data_stream(processed_rows))
    processed = t_env.sql_query(
        f"""
SELECT *,
  DATE_FORMAT(TO_TIMESTAMP_LTZ(event_time_ms, 3), 'yyyy-MM-dd') AS event_date,
  DATE_FORMAT(TO_TIMESTAMP_LTZ(event_time_ms, 3), 'HH') AS `hour`
FROM `{processed_view}`"""
    )
    return PipelineOutputs(
        processed=processed,
        build_alerts=build_alerts,
        dlq=_side_output(decided, DLQ_TAG),
        duplicates=_side_output(decided, DUPLICATES_TAG),
        control_audit=_side_output(decided, CONTROL_AUDIT_TAG) if controls else None,
    )


def stable_table_uids(t_env: StreamTableEnvironment) -> None:
    """Give the operators the table planner generates (key extraction, the processed zone's
    filesystem sink with its compaction and commit state) uids of their own.

    By default (`PLAN_ONLY`) they get none, and Flink derives their ids from their position
    in the whole graph: adding any operator elsewhere (a new version of the job) moves
    them, and a savepoint then fails to restore ("Cannot map checkpoint/savepoint state for
    operator … to the new program"; tests/failure, scenario e). With `ALWAYS` their uid is
    the planner's node id, type and version, which DataStream operators do not shift.
    """
    t_env.get_config().set("table.exec.uid.generation", "ALWAYS")


def audit_alert(alert: str) -> str:
    """The `alerts-audit` operator's function: passes each alert JSON line on unchanged."""
    return alert


def with_alerts_audit(alerts: DataStream, cfg: PipelineConfig) -> DataStream:
    """With `flink.alerts_audit_operator`, one more operator (name and uid `alerts-audit`)
    on the alert stream: a changed job version whose savepoint compatibility with the job
    without it the failure-injection suite checks (tests/failure, scenario e)."""
    if not cfg.flink.alerts_audit_operator:
        return alerts
    return (
        alerts.map(audit_alert, output_type=Types.STRING()).name("alerts-audit").uid("alerts-audit")
    )


def _side_output(stream: DataStream, tag) -> DataStream:
    """A STRING side output as a JVM stream.

    `DataStream.get_side_output` appends an identity Python map; for a STRING tag the JVM
    side output already has the right type, and skipping the map saves a Python operator.
    """
    return DataStream(stream._j_data_stream.getSideOutput(tag.get_java_output_tag()))


def _shard_batches(records: DataStream, cfg: PipelineConfig) -> KeyedStream:
    """Micro-batches of `Row(wallet, raw, mirrored)` records, keyed by state shard.

    The batcher runs in the JVM, chained to the key extraction; the batches are keyed by
    their shard with the JVM's `KeyByKeySelector` (column 0), which is what PyFlink's own
    `key_by` does after computing a key in Python, minus that crossing.
    """
    gateway = get_gateway()
    f = cfg.flink
    batcher = gateway.jvm.io.fraudpipeline.batch.ShardBatcher(
        f.state_shards, f.batch_max_records, f.batch_max_delay_ms
    )
    j_batches = records._j_data_stream.transform(
        "shard-batcher", SHARD_KEYED_TYPE.get_java_type_info(), batcher
    ).uid("shard-batcher")
    j_keyed = j_batches.keyBy(
        gateway.jvm.org.apache.flink.streaming.api.functions.python.KeyByKeySelector(),
        Types.ROW([Types.INT()]).get_java_type_info(),
    )
    return KeyedStream(j_keyed, SHARD_BATCH_TYPE, DataStream(j_batches))
