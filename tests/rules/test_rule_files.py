"""Rule files without a JVM: the header, config placeholders, and errors by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT, load_config
from pipeline.rule_files import DETECTOR_TWINS_DIR, RuleError, load_rules, parse_rule, rules_digest
from pipeline.sql_rules import effective_values_of, load_rule_set

VALUES = {"detectors.structuring.min_count": 3, "rules.dir": "sql/rules", "x.flag": True}
GOOD = """-- id: my_rule
-- severity: high
-- description: an example
SELECT tx_id, wallet_id, event_time, score
FROM enriched_events
WHERE amount_usd > ${detectors.structuring.min_count};
"""


def test_header_and_query_are_parsed_with_file_lines_kept():
    rule = parse_rule(Path("r.sql"), GOOD, VALUES)
    assert (rule.rule_id, rule.severity, rule.description) == ("my_rule", "high", "an example")
    assert rule.header_lines == 3
    # the header stays as comments, so Flink's line numbers are the file's
    assert rule.sql.splitlines()[3] == "SELECT tx_id, wallet_id, event_time, score"
    assert rule.sql.endswith("WHERE amount_usd > 3")  # placeholder applied, `;` removed


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace("-- id: my_rule\n", ""), 1, "header lacks '-- id"),
        (GOOD.replace("severity: high", "severity: urgent"), 2, "severity 'urgent'"),
        (GOOD.replace("id: my_rule", "id: My-Rule"), 1, "must match"),
        (
            GOOD.replace("min_count}", "min_cnt}"),
            6,
            "unknown config key ${detectors.structuring.min_cnt}",
        ),
        ("-- id: a\n-- severity: low\n-- description: d\n", 3, "no query after the header"),
    ],
)
def test_bad_rule_file_is_an_error_naming_file_and_line(text, line, message):
    with pytest.raises(RuleError) as err:
        parse_rule(Path("sql/rules/bad.sql"), text, VALUES)
    assert str(err.value).startswith(f"sql/rules/bad.sql:{line}: ")
    assert message in str(err.value)


def test_flink_position_maps_to_the_file_line_and_shows_it():
    rule = parse_rule(Path("r.sql"), GOOD, VALUES)
    flink = Exception(
        "org.apache.flink.table.api.ValidationException: SQL validation failed. "
        "From line 5, column 6 to line 5, column 20: Object 'enriched_events' not found\n"
        "\tat org.apache.flink.table.planner..."
    )
    err = rule.error_from_flink(flink)
    assert str(err).startswith("r.sql:5: SQL validation failed. From line 5, column 6")
    assert "5 | FROM enriched_events" in str(err)
    assert "\tat " not in str(err)


def test_duplicate_rule_ids_are_rejected(tmp_path):
    (tmp_path / "a.sql").write_text(GOOD)
    (tmp_path / "b.sql").write_text(GOOD)
    with pytest.raises(RuleError, match=r"b\.sql:1: id 'my_rule' is also used by"):
        load_rules(tmp_path, VALUES)


def test_rules_version_changes_with_a_rule_text(tmp_path):
    (tmp_path / "a.sql").write_text(GOOD)
    before = rules_digest(load_rules(tmp_path, VALUES))
    (tmp_path / "a.sql").write_text(GOOD.replace("> ${", ">= ${"))
    assert rules_digest(load_rules(tmp_path, VALUES)) != before


def test_placeholders_take_the_configured_thresholds():
    cfg = load_config({"detectors.structuring.min_count": "4"}, environ={})
    values = effective_values_of(cfg)
    assert values["detectors.structuring.min_count"] == 4
    assert values["detectors.rapid_in_out.min_deposit_usd"] == 5000.0
    rules = {r.rule_id: r for r in load_rule_set(cfg, PROJECT_ROOT / DETECTOR_TWINS_DIR).rules}
    assert "PATTERN (S{4})" in rules["structuring_sql"].sql


@pytest.mark.parametrize("folder", ["sql/rules", DETECTOR_TWINS_DIR])
def test_shipped_rules_parse_with_unique_ids_and_valid_headers(folder):
    cfg = load_config(environ={})
    rule_set = load_rule_set(cfg, PROJECT_ROOT / folder)
    assert {r.path.name for r in rule_set.rules} == {
        p.name for p in (PROJECT_ROOT / folder).glob("*.sql")
    }
    assert rule_set.rules
    assert rule_set.version.startswith(cfg.rules.rules_version + "+")
    for rule in rule_set.rules:
        assert rule.path.stem == rule.rule_id
        assert "${" not in rule.sql
