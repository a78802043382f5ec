"""WalletDetectors: every enabled detector on one wallet's views, with one state dict."""

import dataclasses
import pickle

import pytest

from operators.detectors import CONFIG_CLASSES, DETECTOR_CLASSES, WalletDetectors
from operators.event import SEVERITIES
from tests.factories import (
    MINUTE,
    T0,
    all_detector_configs,
    detector_config,
    detector_sections,
    mirrored_view,
    own_view,
)

TYPOLOGY_SEVERITIES = {  # docs/typologies.md; blocklist: the highest it raises
    "velocity_burst": "medium",
    "structuring": "high",
    "rapid_in_out": "high",
    "peel_chain": "high",
    "round_trip": "high",
    "geo_jump": "medium",
    "fan_out_dusting": "medium",
    "blocklist": "critical",
}


def test_detector_classes_cover_the_typology_table():
    assert {rule_id: cls.severity for rule_id, cls in DETECTOR_CLASSES.items()} == (
        TYPOLOGY_SEVERITIES
    )
    assert all(cls.rule_id == rule_id for rule_id, cls in DETECTOR_CLASSES.items())
    assert all(cls.severity in SEVERITIES for cls in DETECTOR_CLASSES.values())


@pytest.mark.parametrize("rule_id", sorted(DETECTOR_CLASSES))
def test_config_fields_are_exactly_the_toml_keys_without_defaults(rule_id):
    fields = dataclasses.fields(CONFIG_CLASSES[rule_id])

    assert {f.name for f in fields} == set(detector_sections()[rule_id])
    assert all(f.default is dataclasses.MISSING for f in fields)
    assert set(CONFIG_CLASSES) == set(detector_sections())


def test_wallet_detectors_new_state_has_one_entry_per_enabled_detector():
    detectors = WalletDetectors(all_detector_configs(geo_jump={"enabled": False}))

    assert set(detectors.new_state()) == set(DETECTOR_CLASSES) - {"geo_jump"}
    assert "geo_jump" not in detectors.rule_ids


def test_wallet_detectors_run_returns_hits_of_every_detector_the_view_completes():
    detectors = WalletDetectors(all_detector_configs())
    state = detectors.new_state()
    setup = [own_view("deposit", ts=T0 + i * MINUTE, usd=9_000.0) for i in range(2)]
    completing = own_view("withdrawal", ts=T0 + 5 * MINUTE, usd=9_000.0, blocklist="mixer")

    assert [hit for view in setup for hit in detectors.run(state, view)] == []
    hits = detectors.run(state, completing)

    assert [(hit.rule_id, hit.severity) for hit in hits] == [  # in typology table order
        ("structuring", "high"),
        ("rapid_in_out", "high"),
        ("blocklist", "high"),
    ]


def test_wallet_detectors_skip_disabled_detectors():
    detectors = WalletDetectors(all_detector_configs(blocklist={"enabled": False}))
    state = detectors.new_state()

    assert detectors.run(state, own_view("withdrawal", blocklist="sanctioned")) == []
    assert "blocklist" not in state


def test_wallet_detectors_never_return_hits_for_mirrored_views():
    detectors = WalletDetectors(all_detector_configs())
    state = detectors.new_state()
    views = [mirrored_view(ts=T0 + i, usd=10_000.0, blocklist="sanctioned") for i in range(50)]

    assert [hit for view in views for hit in detectors.run(state, view)] == []


def test_wallet_detectors_mirrored_views_still_update_state():
    detectors = WalletDetectors(all_detector_configs())
    state = detectors.new_state()

    detectors.run(state, mirrored_view(ts=T0, usd=10_000.0))
    hits = detectors.run(state, own_view("withdrawal", ts=T0 + MINUTE, usd=9_000.0))

    assert "rapid_in_out" in [hit.rule_id for hit in hits]


def test_wallet_detectors_create_missing_sub_state_of_a_newly_enabled_detector():
    restored = WalletDetectors(all_detector_configs(blocklist={"enabled": False})).new_state()
    detectors = WalletDetectors(all_detector_configs())

    hits = detectors.run(restored, own_view("withdrawal", blocklist="sanctioned"))

    assert [hit.rule_id for hit in hits] == ["blocklist"]
    assert set(restored) == set(DETECTOR_CLASSES)


def test_wallet_detectors_drop_sub_state_of_a_disabled_detector():
    restored = WalletDetectors(all_detector_configs()).new_state()
    detectors = WalletDetectors(all_detector_configs(velocity_burst={"enabled": False}))

    detectors.run(restored, own_view())

    assert set(restored) == set(DETECTOR_CLASSES) - {"velocity_burst"}


def test_wallet_detectors_state_survives_pickling_between_events():
    detectors = WalletDetectors(all_detector_configs())
    state = detectors.new_state()
    hits = []

    for i in range(10):  # as Flink keyed state: restored from bytes before every event
        state = pickle.loads(pickle.dumps(state))
        hits += detectors.run(state, own_view("trade", ts=T0 + i * 10_000))

    assert [hit.rule_id for hit in hits] == ["velocity_burst"]


def test_wallet_detectors_reject_unknown_rule_id():
    with pytest.raises(ValueError, match="no_such_rule"):
        WalletDetectors({"no_such_rule": detector_config("geo_jump")})


def test_wallet_detectors_reject_config_of_another_detector():
    with pytest.raises(TypeError, match="geo_jump"):
        WalletDetectors({"geo_jump": detector_config("blocklist")})
