"""The pipeline config: TOML defaults, FRAUD_* environment, dotted overrides, typed and frozen."""

from __future__ import annotations

import dataclasses
import re

import pytest

from pipeline.config import (
    DEFAULTS_FILE,
    PROJECT_ROOT,
    ConfigError,
    PipelineConfig,
    config_keys,
    env_var_name,
    load_config,
)

README = PROJECT_ROOT / "README.md"


def value_at(cfg: PipelineConfig, dotted: str):
    """The config value of a dotted key (detectors are a mapping rule_id -> dataclass)."""
    section, *rest = dotted.split(".")
    node = getattr(cfg, section)
    if section == "detectors":
        node, rest = node[rest[0]], rest[1:]
    for name in rest:
        node = getattr(node, name)
    return node


# ---------------------------------------------------------------- defaults


def test_defaults_load_with_every_key_of_pipeline_toml():
    cfg = load_config(environ={})

    for dotted, default in config_keys().items():
        value = value_at(cfg, dotted)
        assert value == default, dotted
        assert type(value) is type(default), dotted


def test_shipped_defaults_are_the_documented_ones():
    cfg = load_config(environ={})

    assert cfg.source.format == "csv"
    assert cfg.flink.parallelism == 1
    assert cfg.detectors["velocity_burst"].min_count == 10
    assert cfg.detectors["velocity_burst"].window_ms == 300_000
    assert cfg.decision.alert_score_threshold == 0.9


def test_every_detector_has_a_section():
    from operators.detectors import CONFIG_CLASSES

    assert set(load_config(environ={}).detectors) == set(CONFIG_CLASSES)


def test_config_is_frozen():
    cfg = load_config(environ={})

    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.flink.parallelism = 4  # type: ignore[misc]


def test_relative_paths_resolve_against_the_project_root():
    cfg = load_config(environ={})

    assert cfg.resolve(cfg.source.path) == PROJECT_ROOT / "datasets" / "sample_transactions.csv"
    assert cfg.reference_file(cfg.reference.wallets_file) == (
        PROJECT_ROOT / "datasets" / "reference" / "wallets.csv"
    )
    assert cfg.resolve("/abs/file") == type(PROJECT_ROOT)("/abs/file")


# ---------------------------------------------------------------- environment and overrides


def test_environment_variable_overrides_a_default_with_its_type():
    cfg = load_config(environ={"FRAUD_FLINK_PARALLELISM": "2"})

    assert cfg.flink.parallelism == 2
    assert type(cfg.flink.parallelism) is int


def test_environment_names_join_nested_sections_with_underscores():
    assert env_var_name("detectors.velocity_burst.min_count") == (
        "FRAUD_DETECTORS_VELOCITY_BURST_MIN_COUNT"
    )
    cfg = load_config(
        environ={
            "FRAUD_DETECTORS_VELOCITY_BURST_MIN_COUNT": "12",
            "FRAUD_DECISION_ALERT_SCORE_THRESHOLD": "0.8",
            "FRAUD_DETECTORS_GEO_JUMP_ENABLED": "false",
            "FRAUD_SOURCE_FORMAT": "jsonl",
        }
    )

    assert cfg.detectors["velocity_burst"].min_count == 12
    assert cfg.decision.alert_score_threshold == 0.8
    assert cfg.detectors["geo_jump"].enabled is False
    assert cfg.source.format == "jsonl"


def test_unrelated_environment_variables_are_ignored():
    cfg = load_config(environ={"PATH": "/bin", "FLINK_PARALLELISM": "9"})

    assert cfg.flink.parallelism == 1


@pytest.mark.parametrize(
    ("dotted", "given", "expected"),
    [
        ("flink.parallelism", "3", 3),
        ("flink.parallelism", 4, 4),
        ("flink.parallelism", 5.0, 5),
        ("validation.max_amount", 5, 5.0),
        ("validation.max_amount", "1e9", 1e9),
        ("decision.critical_score_threshold", "0.99", 0.99),
        ("detectors.velocity_burst.min_count", "12", 12),
        ("detectors.blocklist.enabled", "no", False),
        ("detectors.blocklist.enabled", "ON", True),
        ("detectors.blocklist.enabled", False, False),
        ("sink.output_dir", "/tmp/run", "/tmp/run"),
    ],
)
def test_dotted_override_is_converted_to_the_defaults_type(dotted, given, expected):
    value = value_at(load_config({dotted: given}, environ={}), dotted)

    assert value == expected
    assert type(value) is type(expected)


def test_explicit_override_wins_over_the_environment():
    cfg = load_config({"flink.parallelism": 3}, environ={"FRAUD_FLINK_PARALLELISM": "2"})

    assert cfg.flink.parallelism == 3


def test_loading_twice_gives_equal_configs():
    assert load_config(environ={}) == load_config(environ={})


# ---------------------------------------------------------------- errors


def test_unknown_override_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match=r"unknown config key 'flink\.paralelism'"):
        load_config({"flink.paralelism": 2}, environ={})


@pytest.mark.parametrize(
    ("dotted", "bad", "expected_type"),
    [
        ("flink.parallelism", "two", "int"),
        ("flink.parallelism", "2.5", "int"),
        ("flink.parallelism", 2.5, "int"),
        ("flink.parallelism", True, "int"),
        ("validation.max_amount", "lots", "float"),
        ("validation.max_amount", None, "float"),
        ("detectors.geo_jump.enabled", "maybe", "bool"),
        ("detectors.geo_jump.enabled", 2, "bool"),
    ],
)
def test_value_of_the_wrong_type_is_an_error_naming_key_and_type(dotted, bad, expected_type):
    with pytest.raises(ConfigError) as err:
        load_config({dotted: bad}, environ={})

    message = str(err.value)
    assert dotted in message
    assert f"expected {expected_type}" in message
    assert repr(bad) in message


def test_bad_environment_value_is_an_error_naming_the_key():
    with pytest.raises(ConfigError, match=r"flink\.parallelism: cannot use 'two'"):
        load_config(environ={"FRAUD_FLINK_PARALLELISM": "two"})


def _enum_cases() -> list:
    cases = [
        ("source.format", "xml", "source.format must be csv or jsonl"),
        ("flink.python_execution_mode", "fork", "python_execution_mode must be thread or process"),
        ("flink.state_backend", "memory", "state_backend must be hashmap or rocksdb"),
    ]
    keys = config_keys()
    return [
        pytest.param(
            *case,
            id=case[0],
            marks=[pytest.mark.skip(reason=f"{case[0]} not configured")]
            if case[0] not in keys
            else [],
        )
        for case in cases
    ]


@pytest.mark.parametrize(("dotted", "bad", "message"), _enum_cases())
def test_bad_enum_value_is_an_error_listing_the_choices(dotted, bad, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config({dotted: bad}, environ={})


def test_parallelism_below_one_is_an_error():
    with pytest.raises(ConfigError, match="parallelism must be >= 1"):
        load_config({"flink.parallelism": 0}, environ={})


def test_detector_cap_below_its_count_is_an_error():
    with pytest.raises(ConfigError, match=r"velocity_burst: max_entries 5 < the count 10"):
        load_config({"detectors.velocity_burst.max_entries": 5}, environ={})


def test_unknown_key_in_the_defaults_file_is_an_error(tmp_path):
    toml = tmp_path / "pipeline.toml"
    toml.write_text(
        DEFAULTS_FILE.read_text(encoding="utf-8") + "\n[detectors.typo_rule]\nenabled = true\n"
    )

    with pytest.raises(ConfigError, match="typo_rule"):
        load_config(environ={}, defaults_file=toml)


def test_missing_key_in_the_defaults_file_is_an_error(tmp_path):
    toml = tmp_path / "pipeline.toml"
    text = DEFAULTS_FILE.read_text(encoding="utf-8")
    toml.write_text(re.sub(r"(?m)^max_record_bytes = .*$", "", text))

    with pytest.raises(ConfigError, match=r"\[source\]: missing keys \['max_record_bytes'\]"):
        load_config(environ={}, defaults_file=toml)


# ---------------------------------------------------------------- documentation


def readme_config_keys() -> set[str]:
    """Dotted keys of README.md's config table: rows starting with "| `<dotted.key>` |"."""
    text = README.read_text(encoding="utf-8") if README.is_file() else ""
    return set(re.findall(r"(?m)^\|\s*`([a-z_]+(?:\.[a-z0-9_]+)+)`\s*\|", text))


def test_every_config_key_is_documented_in_the_readme_table():
    documented = readme_config_keys()
    if not documented:
        pytest.skip("README.md has no config table yet")

    missing = sorted(set(config_keys()) - documented)
    assert missing == [], f"README.md's config table lacks {missing}"


def test_readme_table_rows_are_read_as_dotted_keys(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(
        "| key | default |\n|---|---|\n"
        "| `flink.parallelism` | `1` |\n"
        "|  `detectors.velocity_burst.min_count`  | `10` |\n"
        "Text mentioning `source.path` is no row.\n"
        "| `make run` | a command, not a key |\n"
    )
    monkeypatch.setattr(f"{__name__}.README", readme)

    assert readme_config_keys() == {"flink.parallelism", "detectors.velocity_burst.min_count"}
