"""Runtime settings from the control topic, as plain Python: parse, validate, apply.

An update on the control topic is one JSON object:

    {"version": 3,
     "detectors": {"velocity_burst": {"min_count": 5, "window_ms": 120000}},
     "rules": {"structuring": {"enabled": false}, "risky_large_withdrawal": {"enabled": true}},
     "issued_by": "analyst@example", "issued_at": "2026-11-29T05:00:00Z"}

Updates merge onto the settings in force: a detector key given replaces that threshold
(`null` returns it to the config's value), a rule given is turned on or off (`null`: back
to the config). `version` must be larger than the version in force; version 0 is the
config itself. An update that fails any check changes nothing and is reported with its
reason. The Flink side (`pipeline/control_function.py`) keeps the settings in broadcast
state; the CLI (`python -m pipeline.control`) runs the same checks before publishing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from operators.decide import MODEL_RULE_ID
from operators.detectors import CONFIG_CLASSES

from .config import ConfigError, PipelineConfig, check_detectors

# Detector keys that cannot change at runtime: `enabled` is per rule ("rules"), and the
# blocklist file is reference data loaded at start-up.
FIXED_DETECTOR_KEYS = frozenset({"enabled", "blocklist_file"})
UPDATE_KEYS = frozenset({"version", "detectors", "rules", "issued_by", "issued_at"})
MAX_UPDATE_BYTES = 65536


class ControlError(ValueError):
    """An update that is not applied; `reason` is a short code, the message the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Settings:
    """The runtime settings in force: overrides of the config, and their version."""

    version: int = 0
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)  # rule_id -> key -> value
    rules: dict[str, bool] = field(default_factory=dict)  # rule_id -> enabled

    def to_json(self) -> str:
        return orjson.dumps(
            {"version": self.version, "detectors": self.detectors, "rules": self.rules},
            option=orjson.OPT_SORT_KEYS,
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> Settings:
        doc = orjson.loads(text)
        return cls(doc["version"], doc["detectors"], doc["rules"])


@dataclass(frozen=True)
class Update:
    """One parsed control-topic message."""

    version: int
    detectors: dict[str, dict[str, Any]]
    rules: dict[str, bool | None]
    issued_by: str
    issued_at: str


def known_rule_ids(detector_ids, sql_rule_ids) -> frozenset[str]:
    """Rules an update may turn on or off: the detectors, the model score, the SQL rules."""
    return frozenset(detector_ids) | {MODEL_RULE_ID} | frozenset(sql_rule_ids)


def parse_update(text: str | bytes, rule_ids: frozenset[str]) -> Update:
    """Parse and check the shape and types of one update (not yet its version or ranges)."""
    if len(text) > MAX_UPDATE_BYTES:
        raise ControlError("too_large", f"update of {len(text)} bytes > {MAX_UPDATE_BYTES}")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ControlError("malformed_json", f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ControlError("not_json_object", f"an update is a JSON object, not {_kind(doc)}")
    unknown = sorted(set(doc) - UPDATE_KEYS)
    if unknown:
        raise ControlError(
            "unknown_key", f"unknown keys {unknown} (allowed: {sorted(UPDATE_KEYS)})"
        )
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ControlError("bad_version", f"version must be an integer >= 1, not {version!r}")
    detectors = _object(doc.get("detectors", {}), "detectors")
    rules = _object(doc.get("rules", {}), "rules")
    if not detectors and not rules:
        raise ControlError("empty_update", "an update changes at least one detector or rule")
    parsed_detectors: dict[str, dict[str, Any]] = {}
    for rule_id, keys in detectors.items():
        if rule_id not in CONFIG_CLASSES:
            raise ControlError(
                "unknown_detector",
                f"unknown detector {rule_id!r} (known: {sorted(CONFIG_CLASSES)})",
            )
        parsed_detectors[rule_id] = {
            key: _typed(rule_id, key, value)
            for key, value in _object(keys, f"detectors.{rule_id}").items()
        }
    parsed_rules: dict[str, bool | None] = {}
    for rule_id, setting in rules.items():
        if rule_id not in rule_ids:
            raise ControlError(
                "unknown_rule", f"unknown rule {rule_id!r} (known: {sorted(rule_ids)})"
            )
        setting = _object(setting, f"rules.{rule_id}")
        if set(setting) != {"enabled"}:
            raise ControlError("unknown_key", f"rules.{rule_id} takes only 'enabled'")
        enabled = setting["enabled"]
        if enabled is not None and not isinstance(enabled, bool):
            raise ControlError("wrong_type", f"rules.{rule_id}.enabled must be true, false or null")
        parsed_rules[rule_id] = enabled
    issued_by, issued_at = doc.get("issued_by", ""), doc.get("issued_at", "")
    if not isinstance(issued_by, str) or not isinstance(issued_at, str):
        raise ControlError("wrong_type", "issued_by and issued_at are strings")
    return Update(version, parsed_detectors, parsed_rules, issued_by, issued_at)


def apply_update(current: Settings, update: Update, cfg: PipelineConfig) -> Settings:
    """The settings after `update`, or ControlError (the current settings stay in force)."""
    if update.version <= current.version:
        raise ControlError(
            "stale_version",
            f"version {update.version} is not newer than the version in force ({current.version})",
        )
    detectors = {rid: dict(keys) for rid, keys in current.detectors.items()}
    for rule_id, keys in update.detectors.items():
        merged = detectors.setdefault(rule_id, {})
        for key, value in keys.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
    detectors = {rid: keys for rid, keys in detectors.items() if keys}
    rules = dict(current.rules)
    for rule_id, enabled in update.rules.items():
        if enabled is None:
            rules.pop(rule_id, None)
        else:
            rules[rule_id] = enabled
    new = Settings(update.version, detectors, rules)
    try:
        check_detectors(detector_configs(cfg, new))
    except ConfigError as exc:
        raise ControlError("out_of_range", str(exc)) from None
    return new


def detector_configs(cfg: PipelineConfig, settings: Settings) -> dict[str, Any]:
    """rule_id -> the detector config in force: the config's, with the runtime overrides.

    A detector runs when the config or the settings enable it (one disabled at runtime
    keeps running, silenced, so its state stays current); `silenced_rules` says which.
    """
    configs = {}
    for rule_id, base in cfg.detectors.items():
        overrides = settings.detectors.get(rule_id, {})
        runs = base.enabled or settings.rules.get(rule_id, False)
        configs[rule_id] = dataclasses.replace(base, **overrides, enabled=runs)
    return configs


def rule_enabled(cfg: PipelineConfig, settings: Settings, rule_id: str) -> bool:
    """Whether a rule's alerts are raised: the settings' word, else the config's (SQL rules
    and the model score are on unless turned off)."""
    if rule_id in settings.rules:
        return settings.rules[rule_id]
    base = cfg.detectors.get(rule_id)
    return base.enabled if base is not None else True


def silenced_rules(cfg: PipelineConfig, settings: Settings) -> frozenset[str]:
    """Detectors that run but raise no hits under `settings`."""
    return frozenset(rid for rid in cfg.detectors if not rule_enabled(cfg, settings, rid))


def audit_record(
    verdict: str,
    update: Update | None,
    raw: str,
    in_force: Settings,
    now_iso: str,
    reason: str = "",
    detail: str = "",
) -> str:
    """One audit line: what arrived, whether it was applied, and the settings in force."""
    claimed = _claimed(raw) if update is None else {}
    record = {
        "verdict": verdict,  # accepted | rejected
        # what the update says about itself, even when it could not be parsed as a whole
        "version": update.version if update else claimed.get("version"),
        "issued_by": update.issued_by if update else claimed.get("issued_by"),
        "issued_at": update.issued_at if update else claimed.get("issued_at"),
        "reason": reason,
        "detail": detail,
        "version_in_force": in_force.version,
        "settings_in_force": orjson.loads(in_force.to_json()),
        "processed_at": now_iso,
    }
    if update is None or verdict == "rejected":
        record["update"] = raw[:4096]
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()


def _claimed(raw: str) -> dict[str, Any]:
    """version / issued_by / issued_at of a rejected update, where they are plain values."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(doc, dict):
        return {}
    return {
        k: v
        for k, v in doc.items()
        if k in ("version", "issued_by", "issued_at") and isinstance(v, int | str)
    }


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ControlError("wrong_type", f"{where} must be a JSON object, not {_kind(value)}")
    return value


def _typed(rule_id: str, key: str, value: Any) -> Any:
    """A threshold override checked against the type of the config field it replaces."""
    fields = {f.name: f for f in dataclasses.fields(CONFIG_CLASSES[rule_id])}
    if key not in fields:
        tunable = sorted(set(fields) - FIXED_DETECTOR_KEYS)
        raise ControlError(
            "unknown_key", f"detectors.{rule_id} has no key {key!r} (tunable: {tunable})"
        )
    if key in FIXED_DETECTOR_KEYS:
        raise ControlError(
            "fixed_key",
            f"detectors.{rule_id}.{key} cannot change at runtime"
            + (" (use rules.<id>.enabled)" if key == "enabled" else " (restart the job)"),
        )
    if value is None:
        return None
    want = fields[key].type
    if want == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ControlError(
            "wrong_type", f"detectors.{rule_id}.{key} must be an integer, not {value!r}"
        )
    if want == "float":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ControlError(
                "wrong_type", f"detectors.{rule_id}.{key} must be a number, not {value!r}"
            )
        value = float(value)
    return value


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )
