"""Authoring commands for SQL rules: `python -m pipeline rules check | test`.

- `check` parses and plans every rule of `[rules].dir` against the stream's schema (no job
  runs); a broken rule is reported as `file:line: message` and the command exits 1.
- `test FILE --events CSV` runs one rule on a CSV of events (the dataset format): the events
  are validated, enriched and scored by the plain-Python operators (as the offline replay
  does), become a bounded stream with the job's watermark, and the rule's alerts are printed
  as JSON lines.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .config import PipelineConfig
from .rule_files import RuleError, parse_rule
from .sql_rules import RuleSet, effective_values_of, load_rule_set


def processed_rows(events_csv: Path, cfg: PipelineConfig) -> list:
    """The processed-zone rows the job would produce for `events_csv` (offline replay)."""
    from pyflink.common import Row

    from .components import Components
    from .offline import iter_records, replay
    from .schemas import processed_values

    if cfg.source.format != "csv":
        cfg = _with_format(cfg, "csv")
    components = Components(cfg)
    result = replay(iter_records(events_csv), components)
    alerts = {a.tx_id: a for a in result.alerts}
    now_ms = time.time_ns() // 1_000_000
    return [
        Row(
            *processed_values(
                s,
                float(score),
                alerts.get(s.view.event.tx.tx_id),
                components.model_version,
                now_ms,
                0,
            )
        )
        for s, score in zip(result.scored, result.scores, strict=True)
    ]


def _with_format(cfg: PipelineConfig, fmt: str) -> PipelineConfig:
    import dataclasses

    return dataclasses.replace(cfg, source=dataclasses.replace(cfg.source, format=fmt))


def rules_environment(cfg: PipelineConfig, rows: list):
    """A streaming environment and the processed `rows` as a bounded stream of the
    processed row type (what the keyed operator emits in the job): (env, t_env, stream)."""
    from .flink_env import create_environments
    from .schemas import PROCESSED_ROW_TYPE

    env, t_env = create_environments(cfg)
    # One subtask: the collection source then emits in file order, so the watermark follows
    # the file as the job's does per source split.
    env.set_parallelism(1)
    return env, t_env, env.from_collection(rows, type_info=PROCESSED_ROW_TYPE)


def check_rules(cfg: PipelineConfig, folder: Path | None = None, out=sys.stdout) -> int:
    """Plan every rule; print one line per rule; 0 when all are valid."""
    from .sql_rules import ALERT_COLUMNS, alert_json_table, rule_alerts, rule_alerts_table

    try:
        rule_set = load_rule_set(cfg, folder)
    except RuleError as exc:
        print(f"error: {exc}", file=out)
        return 1
    from .sql_rules import events_table, register_views

    _, t_env, stream = rules_environment(cfg, [])
    register_views(t_env, events_table(t_env, stream, cfg), cfg)
    columns = ", ".join(f"`{c}` STRING" for c in ALERT_COLUMNS).replace(
        "`score` STRING", "`score` DOUBLE"
    )
    t_env.execute_sql(
        f"CREATE TEMPORARY TABLE {_BLACKHOLE} ({columns}) WITH ('connector' = 'blackhole')"
    )
    failed = 0
    for rule in rule_set.rules:
        try:
            table = rule_alerts_table(t_env, rule, rule_set, "check")
            _explain(rule, table, t_env)
        except RuleError as exc:
            failed += 1
            print(f"error: {exc}", file=out)
            continue
        print(f"ok     {rule.path}  ({rule.rule_id}, {rule.severity})", file=out)
    if failed:
        print(f"{failed} of {len(rule_set.rules)} rules failed", file=out)
        return 1
    if rule_set.rules:
        # The whole set as the job runs it (one UNION ALL), planned once more.
        alert_json_table(t_env, rule_alerts(t_env, rule_set, "check")).explain()
    print(f"{len(rule_set.rules)} rules ok (rules version {rule_set.version})", file=out)
    return 0


_BLACKHOLE = "rules_check_sink"


def _explain(rule, table, t_env) -> None:
    """Optimize the rule's plan and translate it into operators, as a job submission would
    (some errors, e.g. an aggregate a window cannot merge, only show in translation)."""
    try:
        table.explain()
        statements = t_env.create_statement_set()
        statements.add_insert(_BLACKHOLE, table)
        statements.attach_as_datastream()
    except Exception as exc:  # the optimizer's errors (unsupported plans) carry no position
        raise rule.error_from_flink(exc) from None


def test_rule(
    cfg: PipelineConfig,
    rule_path: Path,
    events_csv: Path,
    output: Path | None = None,
    out=sys.stdout,
) -> int:
    """Run one rule (or every rule of a folder) over `events_csv`; print the alerts as JSON
    lines; 0 when it ran."""
    try:
        alerts = run_rules(cfg, rule_path, events_csv)
    except RuleError as exc:
        print(f"error: {exc}", file=out)
        return 1
    for line in alerts:
        print(line, file=out)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("".join(line + "\n" for line in alerts), encoding="utf-8")
    print(f"{len(alerts)} alerts from {rule_path}", file=sys.stderr)
    return 0


def run_rules(cfg: PipelineConfig, rule_path: Path, events_csv: Path) -> list[str]:
    """The alerts (JSON lines, in arrival order) of one rule file, or of every rule of a
    folder, over a CSV of events; through the job's hook (`sql_rule_alerts`)."""
    from .components import Components
    from .rule_files import rules_digest
    from .sql_rules import sql_rule_alerts

    if rule_path.is_dir():
        rule_set = load_rule_set(cfg, rule_path)
    else:
        text = rule_path.read_text(encoding="utf-8")
        rule = parse_rule(rule_path, text, effective_values_of(cfg))
        rule_set = RuleSet([rule], f"{cfg.rules.rules_version}+{rules_digest([rule])}")
    if not rule_set.rules:
        return []
    rows = processed_rows(events_csv, cfg)
    _, t_env, stream = rules_environment(cfg, rows)
    model_version = Components(cfg).model_version
    enabled = _with_rules_enabled(cfg)
    alerts = sql_rule_alerts(t_env, stream, enabled, model_version, rule_set)
    with alerts.execute_and_collect() as results:
        return list(results)


def _with_rules_enabled(cfg: PipelineConfig) -> PipelineConfig:
    import dataclasses

    return dataclasses.replace(cfg, rules=dataclasses.replace(cfg.rules, enabled=True))
