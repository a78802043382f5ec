"""Control-topic updates as plain Python: parsing, validation, merging, and their effect on
the detectors and decisions (no JVM, no broker)."""

from __future__ import annotations

import json

import pytest

from operators.decide import MODEL_RULE_ID, Decider, DecisionSettings
from operators.detectors import WalletDetectors
from pipeline.config import load_config
from pipeline.control_function import SettingsKeeper, sql_rule_ids
from pipeline.control_settings import (
    ControlError,
    Settings,
    apply_update,
    detector_configs,
    known_rule_ids,
    parse_update,
    rule_enabled,
    silenced_rules,
)
from pipeline.rule_files import DETECTOR_TWINS_DIR
from tests.contracts.test_contracts import ALERT, validator
from tests.factories import SECOND, T0, make_enriched, own_view

CFG = load_config({"rules.dir": DETECTOR_TWINS_DIR}, environ={})  # rules with known ids
RULES = known_rule_ids(CFG.detectors, sql_rule_ids(CFG))


def update(**doc) -> str:
    return json.dumps(doc)


def rejected(text: str, current: Settings | None = None) -> ControlError:
    with pytest.raises(ControlError) as info:
        apply_update(current or Settings(), parse_update(text, RULES), CFG)
    return info.value


def test_known_rules_are_the_detectors_the_model_score_and_the_sql_rule_files():
    assert {"velocity_burst", "blocklist", MODEL_RULE_ID, "structuring_sql"} <= RULES


def test_an_update_merges_onto_the_settings_in_force_and_null_restores_the_config():
    v1 = apply_update(
        Settings(),
        parse_update(
            update(version=1, detectors={"velocity_burst": {"min_count": 5, "window_ms": 60000}}),
            RULES,
        ),
        CFG,
    )
    v2 = apply_update(
        v1,
        parse_update(
            update(
                version=7,
                detectors={
                    "velocity_burst": {"window_ms": None},
                    "geo_jump": {"max_speed_kmh": 2000},
                },
                rules={"structuring": {"enabled": False}},
            ),
            RULES,
        ),
        CFG,
    )
    assert v2 == Settings(
        7,
        {"velocity_burst": {"min_count": 5}, "geo_jump": {"max_speed_kmh": 2000.0}},
        {"structuring": False},
    )
    configs = detector_configs(CFG, v2)
    assert (configs["velocity_burst"].min_count, configs["velocity_burst"].window_ms) == (5, 300000)
    assert configs["structuring"].enabled  # keeps running, silenced
    assert silenced_rules(CFG, v2) == {"structuring"}
    assert Settings.from_json(v2.to_json()) == v2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "not_json_object"),
        (update(version=1, detectors={"velocity_burst": {"min_count": 3}}, extra=1), "unknown_key"),
        (update(detectors={"velocity_burst": {"min_count": 3}}), "bad_version"),
        (update(version="2", detectors={"velocity_burst": {"min_count": 3}}), "bad_version"),
        (update(version=True, detectors={"velocity_burst": {"min_count": 3}}), "bad_version"),
        (update(version=1), "empty_update"),
        (update(version=1, detectors={"velocity": {"min_count": 3}}), "unknown_detector"),
        (update(version=1, detectors={"velocity_burst": {"min_cnt": 3}}), "unknown_key"),
        (update(version=1, detectors={"velocity_burst": {"enabled": False}}), "fixed_key"),
        (update(version=1, detectors={"blocklist": {"blocklist_file": "x.csv"}}), "fixed_key"),
        (update(version=1, detectors={"velocity_burst": {"min_count": 3.5}}), "wrong_type"),
        (update(version=1, detectors={"velocity_burst": {"min_count": "3"}}), "wrong_type"),
        (update(version=1, detectors={"velocity_burst": {"min_count": True}}), "wrong_type"),
        (update(version=1, detectors={"geo_jump": {"min_distance_km": "far"}}), "wrong_type"),
        (update(version=1, detectors={"velocity_burst": []}), "wrong_type"),
        (update(version=1, rules={"no_such_rule": {"enabled": False}}), "unknown_rule"),
        (update(version=1, rules={"blocklist": {"enabled": "no"}}), "wrong_type"),
        (update(version=1, rules={"blocklist": {"on": False}}), "unknown_key"),
        (update(version=1, detectors={"velocity_burst": {"min_count": 0}}), "out_of_range"),
        (update(version=1, detectors={"velocity_burst": {"min_count": 65}}), "out_of_range"),
        (update(version=1, detectors={"structuring": {"band_low_ratio": 1.5}}), "out_of_range"),
        (update(version=1, detectors={"geo_jump": {"min_distance_km": -1}}), "out_of_range"),
        (update(version=1, detectors={"peel_chain": {"peel_min_ratio": 0.5}}), "out_of_range"),
        ('{"version": 1, "detectors": {"geo_jump": {"max_speed_kmh": NaN}}}', "malformed_json"),
        ("x" * 70000, "too_large"),
    ],
)
def test_an_invalid_update_is_rejected_with_its_reason(text, reason):
    assert rejected(text).reason == reason


def test_a_version_not_newer_than_the_one_in_force_is_stale():
    current = Settings(4, {}, {"blocklist": False})
    good = update(version=4, rules={"blocklist": {"enabled": True}})
    assert rejected(good, current).reason == "stale_version"
    assert apply_update(current, parse_update(good.replace("4", "5"), RULES), CFG).version == 5


class _State(dict):
    """A broadcast state's get/put, in memory."""

    def put(self, key, value):
        self[key] = value


def test_the_keeper_keeps_the_old_version_after_a_rejected_update_and_audits_both():
    keeper, state = SettingsKeeper(CFG, ()), _State()
    ok, audit = keeper.receive(update(version=1, rules={"geo_jump": {"enabled": False}}), state, 0)
    assert ok and json.loads(audit)["verdict"] == "accepted"
    ok, audit = keeper.receive(update(version=2, detectors={"geo_jump": {"x": 1}}), state, 0)
    record = json.loads(audit)
    assert not ok
    assert (record["verdict"], record["reason"], record["version"], record["version_in_force"]) == (
        "rejected",
        "unknown_key",
        2,  # what the update claimed, though it failed to parse as a whole
        1,
    )
    assert keeper.settings.version == 1
    restored = SettingsKeeper(CFG, ())
    assert restored.restore(state) and restored.settings == keeper.settings


def _burst_hits(detectors: WalletDetectors, n: int) -> list[list]:
    state = detectors.new_state()
    return [detectors.run(state, own_view(ts=T0 + i * SECOND)) for i in range(n)]


def test_a_silenced_detector_keeps_its_state_but_raises_nothing():
    settings = Settings(1, {"velocity_burst": {"min_count": 3}}, {"velocity_burst": False})
    silenced = WalletDetectors(detector_configs(CFG, settings), silenced_rules(CFG, settings))
    assert all(hits == [] for hits in _burst_hits(silenced, 5))
    loud = WalletDetectors(detector_configs(CFG, Settings(1, settings.detectors, {})))
    assert [i for i, hits in enumerate(_burst_hits(loud, 5)) if hits] == [2]


def test_turning_the_model_score_off_stops_score_only_alerts_and_alerts_carry_the_version():
    base = DecisionSettings(0.9, 0.97, "m", "r")
    event = make_enriched()
    on = Decider(base).decide(event, [], 0.95, [0.0] * 18, T0)
    assert on is not None and on.settings_version == 0
    off = DecisionSettings(0.9, 0.97, "m", "r", settings_version=3, model_rule_enabled=False)
    assert Decider(off).decide(event, [], 0.95, [0.0] * 18, T0) is None
    assert not rule_enabled(CFG, Settings(3, {}, {MODEL_RULE_ID: False}), MODEL_RULE_ID)


def test_the_alert_contract_takes_settings_version_and_stays_backward_compatible():
    alerts = validator("alert.v1")
    assert alerts.is_valid(ALERT)  # 1.0.0 alerts (no settings_version) stay valid
    assert alerts.is_valid({**ALERT, "settings_version": 4})
    assert not alerts.is_valid({**ALERT, "settings_version": -1})
    assert not alerts.is_valid({**ALERT, "settings_version": "4"})
    decided = Decider(DecisionSettings(0.9, 0.97, "m", "r", settings_version=2)).decide(
        make_enriched(), [], 0.95, [0.0] * 18, T0
    )
    assert alerts.is_valid(json.loads(decided.to_json()))


class _Context:
    def __init__(self, state: _State) -> None:
        self._state = state

    def get_broadcast_state(self, _descriptor):
        return self._state


def test_sql_rule_alerts_of_a_rule_turned_off_are_dropped_the_others_carry_the_version():
    from pipeline.control_function import SqlAlertControlFunction

    function = SqlAlertControlFunction(CFG, ("structuring_sql", "geo_jump_sql"))
    function.open(None)
    ctx = _Context(_State())
    alert = {**ALERT, "rule_ids": ["structuring_sql"]}
    assert [
        json.loads(a)["settings_version"] for a in function.process_element(json.dumps(alert), ctx)
    ] == [0]
    function.process_broadcast_element(
        update(version=5, rules={"structuring_sql": {"enabled": False}}), ctx
    )
    assert list(function.process_element(json.dumps(alert), ctx)) == []
    other = json.dumps({**ALERT, "rule_ids": ["geo_jump_sql"]})
    [kept] = function.process_element(other, ctx)
    assert json.loads(kept)["settings_version"] == 5
    assert json.loads(kept).keys() == json.loads(other).keys() | {"settings_version"}


def test_the_floor_from_the_history_holds_until_the_replayed_chain_passes_it():
    v1 = update(version=1, detectors={"velocity_burst": {"min_count": 3}})
    v2 = update(version=2, detectors={"velocity_burst": {"min_count": 4}})
    floor = apply_update(
        apply_update(Settings(), parse_update(v1, RULES), CFG), parse_update(v2, RULES), CFG
    )
    keeper, state = SettingsKeeper(CFG, (), floor), _State()
    assert keeper.settings == floor  # before the source has re-read anything
    keeper.receive(v1, state, 0)
    assert keeper.settings == floor  # the history's first update does not step back
    ok, audit = keeper.receive(v2, state, 0)
    assert ok and keeper.chain == floor and json.loads(audit)["version_in_force"] == 2
    # a restore takes chain and floor from the state, not the floor a new driver computed
    keeper.receive(update(version=3, rules={"blocklist": {"enabled": False}}), state, 0)
    restored = SettingsKeeper(CFG, (), Settings(9, {}, {}))
    assert restored.restore(state) and restored.settings.version == 3
    # an empty state (checkpoint before any update arrived) keeps the driver's floor
    fresh = SettingsKeeper(CFG, (), floor)
    assert fresh.restore(_State()) and fresh.settings == floor
