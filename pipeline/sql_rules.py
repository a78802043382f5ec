"""SQL rules inside the job: the views rules query, and their alerts in the common schema.

What a rule (`sql/rules/*.sql`, see `pipeline/rule_files.py`) can read:
- `enriched_events` — the processed stream (`pipeline/schemas.PROCESSED_COLUMNS`: one row
  per valid, new transaction, enriched and scored) plus `event_time` TIMESTAMP_LTZ(3), the
  event-time attribute, with the source's watermark held back a further
  `[rules].watermark_out_of_orderness_ms`;
- `wallet_events` — each wallet's view of those transactions: the own view of every row and,
  for internal transfers, the receiver's mirrored inbound view (as the Python detectors see
  them). Extra columns: `view_wallet`, `direction` (in | out | trade), `mirrored`, `peer`
  (the other side seen from `view_wallet`);
- `blocklist` — `datasets/reference/<detectors.blocklist.blocklist_file>` (address, category);
- the UDFs of `udfs/`.

What a rule must produce: `tx_id`, `wallet_id`, `event_time` (a timestamp) and `score`
(DOUBLE); optional `reason` (STRING, default: the header's description), `severity` (STRING,
default: the header's), `model_version` (STRING). Each row becomes one alert with
`rule_ids = [<id>]` and `alert_id = sha256("<tx_id>|<id>")[:32]` (deterministic; a Python
detector alert of the same transaction has `sha256("<tx_id>|<wallet_id>")`, so both are kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyflink.datastream import DataStream
from pyflink.table import Schema, StreamTableEnvironment, Table

from .config import PipelineConfig, effective_values
from .rule_files import RuleError, RuleFile, load_rules, rules_digest
from .schemas import PROCESSED_COLUMNS

EVENTS_VIEW = "enriched_events"
WALLET_VIEW = "wallet_events"
BLOCKLIST_VIEW = "blocklist"
_INPUT_VIEW = "rules_input"

REQUIRED_COLUMNS = ("tx_id", "wallet_id", "event_time", "score")
OPTIONAL_COLUMNS = ("reason", "severity", "model_version")
# Alert columns of `rule_alerts`, in this order.
ALERT_COLUMNS = (
    "alert_id",
    "tx_id",
    "wallet_id",
    "event_time",
    "detected_at",
    "rule_id",
    "severity",
    "score",
    "model_version",
    "rules_version",
    "reason",
)
_ISO_MS = "yyyy-MM-dd''T''HH:mm:ss.SSS''Z''"  # DATE_FORMAT pattern; the session zone is UTC


@dataclass(frozen=True)
class RuleSet:
    """The rule files in force and the version recorded in their alerts."""

    rules: list[RuleFile]
    version: str


def load_rule_set(cfg: PipelineConfig, folder: Path | None = None) -> RuleSet:
    """The rules of `[rules].dir` (or `folder`), with config placeholders applied."""
    rules = load_rules(folder or cfg.resolve(cfg.rules.dir), effective_values_of(cfg))
    return RuleSet(rules, f"{cfg.rules.rules_version}+{rules_digest(rules)}")


def effective_values_of(cfg: PipelineConfig) -> dict:
    """Every dotted config key with its value in `cfg` (what `${key}` placeholders name)."""
    values = dict(effective_values())
    for key in values:
        section, _, rest = key.partition(".")
        obj = getattr(cfg, section)
        if section == "detectors":
            rule_id, _, field = rest.partition(".")
            values[key] = getattr(obj[rule_id], field)
        else:
            values[key] = getattr(obj, rest)
    return values


def events_table(
    t_env: StreamTableEnvironment, processed: Table | DataStream, cfg: PipelineConfig
) -> Table:
    """The processed stream as a Table with the event-time attribute and watermark.

    `processed` has the columns of `PROCESSED_COLUMNS` (the job's processed rows, before
    the partition columns are added; extra columns are ignored). The watermark is the
    source's (`SOURCE_WATERMARK()`), held back `[rules].watermark_out_of_orderness_ms` more:
    a watermark derived from these rows would run ahead of the rows still to come, because
    the keyed Python operator emits them grouped by state shard, not in source order (the
    shard batcher emits everything it holds before it forwards a watermark). A stream with
    no watermarks upstream (`rules test`'s collection) gets only the end-of-input one, so
    every row counts.
    """
    from pyflink.java_gateway import get_gateway

    stream = processed if isinstance(processed, DataStream) else t_env.to_data_stream(processed)
    # The rules start a task chain of their own. Chained behind the keyed Python function,
    # their thread-mode Python UDF operators share its task thread, and pemja gives each
    # embedded operator its own Python thread state on that thread. The first one becomes
    # the thread's PyGILState state, so when onnxruntime's pybind11 module (imported by the
    # keyed function) calls PyGILState_Ensure it waits for a GIL its own thread holds under
    # another state: the task hangs at start-up (gdb: take_gil inside
    # PyInit_onnxruntime_pybind11_state). `rescale` at equal parallelism is a 1:1 channel
    # (order kept) that Flink never chains across.
    j_stream = stream.rescale()._j_data_stream
    delay = get_gateway().jvm.io.fraudpipeline.time.WatermarkDelay(
        cfg.rules.watermark_out_of_orderness_ms
    )
    delayed = DataStream(
        j_stream.transform("rules-watermark-delay", j_stream.getType(), delay).uid(
            "rules-watermark-delay"
        )
    )
    schema = (
        Schema.new_builder()
        .column_by_expression("event_time", "TO_TIMESTAMP_LTZ(event_time_ms, 3)")
        .watermark("event_time", "SOURCE_WATERMARK()")
        .build()
    )
    return t_env.from_data_stream(delayed, schema)


def register_views(t_env: StreamTableEnvironment, events: Table, cfg: PipelineConfig) -> None:
    """Register `enriched_events`, `wallet_events`, `blocklist` and the UDFs."""
    from udfs import register_udfs

    t_env.create_temporary_view(_INPUT_VIEW, events)
    columns = ", ".join(f"`{c}`" for c, _ in PROCESSED_COLUMNS)
    t_env.create_temporary_view(
        EVENTS_VIEW, t_env.sql_query(f"SELECT {columns}, event_time FROM `{_INPUT_VIEW}`")
    )
    # One UNNEST (not a UNION ALL) keeps each wallet's views in order; the time attribute
    # survives the correlate.
    t_env.create_temporary_view(
        WALLET_VIEW,
        t_env.sql_query(
            f"""
SELECT e.*, v.view_wallet, v.direction, v.mirrored, v.peer
FROM `{EVENTS_VIEW}` AS e
CROSS JOIN UNNEST(ARRAY[
  ROW(e.wallet_id,
      CAST(CASE e.tx_type WHEN 'deposit' THEN 'in' WHEN 'trade' THEN 'trade' ELSE 'out' END
        AS STRING),
      FALSE, e.counterparty_wallet),
  ROW(CASE WHEN e.tx_type = 'transfer' AND e.counterparty_wallet <> ''
        AND e.counterparty_wallet <> e.wallet_id THEN e.counterparty_wallet END,
      CAST('in' AS STRING), TRUE, e.wallet_id)
]) AS v(view_wallet, direction, mirrored, peer)
WHERE v.view_wallet IS NOT NULL"""
        ),
    )
    blocklist_path = cfg.reference_file(cfg.detectors["blocklist"].blocklist_file)
    t_env.execute_sql(
        f"""
CREATE TEMPORARY TABLE `{BLOCKLIST_VIEW}_file` (address STRING, category STRING, source STRING)
WITH ('connector' = 'filesystem', 'path' = '{blocklist_path.as_posix()}', 'format' = 'csv')"""
    )
    t_env.create_temporary_view(
        BLOCKLIST_VIEW,
        t_env.sql_query(
            f"SELECT address, category FROM `{BLOCKLIST_VIEW}_file` WHERE address <> 'address'"
        ),
    )
    register_udfs(t_env, cfg)


def rule_table(t_env: StreamTableEnvironment, rule: RuleFile) -> Table:
    """Plan one rule's query and check its output columns; errors name the file and line."""
    try:
        table = t_env.sql_query(rule.sql)
        schema = table.get_schema()
        names = schema.get_field_names()
        types = {n: str(schema.get_field_data_type(n)) for n in names}
    except RuleError:
        raise
    except Exception as exc:  # Py4J wraps Flink's parser/validator errors
        raise rule.error_from_flink(exc) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise RuleError(
            rule.path,
            rule.header_lines + 1,
            f"the query must produce columns {', '.join(REQUIRED_COLUMNS)}; missing {missing} "
            f"(it produces {', '.join(names)})",
        )
    if "TIMESTAMP" not in types["event_time"].upper():
        raise RuleError(
            rule.path,
            rule.header_lines + 1,
            f"column event_time must be a timestamp, not {types['event_time']}",
        )
    return table


def rule_alerts_table(
    t_env: StreamTableEnvironment, rule: RuleFile, rule_set: RuleSet, model_version: str
) -> Table:
    """One rule's rows as alert rows (`ALERT_COLUMNS`)."""
    table = rule_table(t_env, rule)
    names = set(table.get_schema().get_field_names())
    view = f"rule__{rule.rule_id}"
    _replace_view(t_env, view, table)

    def optional(column: str, default: str) -> str:
        return f"COALESCE(CAST(`{column}` AS STRING), {default})" if column in names else default

    rid = _literal(rule.rule_id)
    return t_env.sql_query(
        f"""
SELECT
  SUBSTRING(SHA256(CONCAT(CAST(tx_id AS STRING), '|', {rid})) FROM 1 FOR 32) AS alert_id,
  CAST(tx_id AS STRING) AS tx_id,
  CAST(wallet_id AS STRING) AS wallet_id,
  DATE_FORMAT(CAST(event_time AS TIMESTAMP_LTZ(3)), '{_ISO_MS}') AS event_time,
  DATE_FORMAT(CURRENT_TIMESTAMP, '{_ISO_MS}') AS detected_at,
  {rid} AS rule_id,
  {optional("severity", _literal(rule.severity))} AS severity,
  CAST(score AS DOUBLE) AS score,
  {optional("model_version", _literal(model_version))} AS model_version,
  {_literal(rule_set.version)} AS rules_version,
  {optional("reason", _literal(rule.description))} AS reason
FROM `{view}`"""
    )


def rule_alerts(
    t_env: StreamTableEnvironment, rule_set: RuleSet, model_version: str
) -> Table | None:
    """Alert rows of every rule (UNION ALL), or None when there are no rules."""
    tables = [rule_alerts_table(t_env, r, rule_set, model_version) for r in rule_set.rules]
    if not tables:
        return None
    union = tables[0]
    for table in tables[1:]:
        union = union.union_all(table)
    return union


def alert_json_table(t_env: StreamTableEnvironment, alerts: Table) -> Table:
    """One STRING column `alert`: the alert as a JSON line (`contracts/alert.v1`), built in
    the JVM (keys come out sorted; consumers read JSON, not key order)."""
    _replace_view(t_env, "rule_alerts", alerts)
    return t_env.sql_query(
        """
SELECT JSON_OBJECT(
  KEY 'alert_id' VALUE alert_id,
  KEY 'tx_id' VALUE tx_id,
  KEY 'wallet_id' VALUE wallet_id,
  KEY 'event_time' VALUE event_time,
  KEY 'detected_at' VALUE detected_at,
  KEY 'rule_ids' VALUE JSON_ARRAY(rule_id),
  KEY 'severity' VALUE severity,
  KEY 'score' VALUE score,
  KEY 'model_version' VALUE model_version,
  KEY 'rules_version' VALUE rules_version,
  KEY 'features' VALUE JSON_OBJECT(),
  KEY 'reasons' VALUE JSON_ARRAY(reason)
) AS alert
FROM rule_alerts"""
    )


def sql_rule_alerts(
    t_env: StreamTableEnvironment,
    processed: Table | DataStream,
    cfg: PipelineConfig,
    model_version: str,
    rule_set: RuleSet | None = None,
) -> DataStream | None:
    """The job's hook: alerts of every SQL rule as JSON lines, a STRING stream like the
    Python detectors' alerts side output (union the two before the alerts sink).

    `processed`: the processed rows (`PROCESSED_COLUMNS`), as the keyed operator's output
    stream or a Table of it. `rule_set`: the rules of `[rules].dir` unless given. None when
    `[rules].enabled` is false or there is no rule. Adding or changing a rule changes the
    job graph: restart from a savepoint (README, "Rules in Flink SQL").
    """
    if not cfg.rules.enabled:
        return None
    if rule_set is None:
        rule_set = load_rule_set(cfg)
    if not rule_set.rules:
        return None
    register_views(t_env, events_table(t_env, processed, cfg), cfg)
    alerts = rule_alerts(t_env, rule_set, model_version)
    return json_lines_stream(t_env, alert_json_table(t_env, alerts))


def json_lines_stream(t_env: StreamTableEnvironment, json_table: Table) -> DataStream:
    """A one-STRING-column table as a stream of str, typed as the Python detectors' alerts
    side output (`Types.STRING()`) so the two can be unioned; JVM only, no Python operator.

    `toDataStream(table, String.class)` types its output `ExternalTypeInfo<String>`, which a
    union with a `Types.STRING()` stream rejects, and `to_append_stream(table, STRING)` fails
    to compile (Flink 2.2.1). The records are java Strings either way, so the conversion's
    declared type is set to the basic STRING type before anything reads it.
    """
    from pyflink.common import Types
    from pyflink.java_gateway import get_gateway

    j_string = get_gateway().jvm.java.lang.Class.forName("java.lang.String")
    j_stream = t_env._j_tenv.toDataStream(json_table._j_table, j_string)
    j_stream.getTransformation().setOutputType(Types.STRING().get_java_type_info())
    return DataStream(j_stream)


def _replace_view(t_env: StreamTableEnvironment, name: str, table: Table) -> None:
    t_env.drop_temporary_view(name)
    t_env.create_temporary_view(name, table)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
