"""Decision: a transaction's rule hits and model score become at most one alert."""

from __future__ import annotations

import json

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from models.features import FEATURE_NAMES, N_FEATURES
from operators.decide import MODEL_RULE_ID, Decider, DecisionSettings, alert_id, iso_ms
from operators.event import SEVERITIES, Hit
from operators.validate import parse_event_time
from tests.factories import T0, components, make_enriched

DECISION = components().cfg.decision
ALERT_AT = DECISION.alert_score_threshold  # 0.9 shipped
CRITICAL_AT = DECISION.critical_score_threshold  # 0.97 shipped
DETECTED_AT = T0 + 1_234
FEATURES = [float(i) / 10 for i in range(N_FEATURES)]
ALERT_SCHEMA = json.loads(
    (components().cfg.resolve("contracts") / "alert.v1.schema.json").read_text(encoding="utf-8")
)


def decider() -> Decider:
    return Decider(
        DecisionSettings(
            alert_score_threshold=ALERT_AT,
            critical_score_threshold=CRITICAL_AT,
            model_version="gbt-test",
            rules_version="rules-test",
        )
    )


def hit(rule_id: str, severity: str = "medium") -> Hit:
    return Hit(rule_id, severity, f"{rule_id} pattern completed")


def decide(hits=(), score: float = 0.0, **tx_fields):
    return decider().decide(make_enriched(**tx_fields), list(hits), score, FEATURES, DETECTED_AT)


def alert_validator() -> Draft202012Validator:
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        from datetime import datetime

        @checker.checks("date-time", raises=ValueError)
        def _date_time(value) -> bool:
            if isinstance(value, str):
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            return True

    return Draft202012Validator(ALERT_SCHEMA, format_checker=checker)


# ---------------------------------------------------------------- alert id


def test_alert_id_is_deterministic():
    assert alert_id("tx-1", "w-1") == alert_id("tx-1", "w-1")
    assert len(alert_id("tx-1", "w-1")) == 32
    int(alert_id("tx-1", "w-1"), 16)


def test_alert_id_differs_per_transaction_and_per_wallet():
    ids = {alert_id(tx, w) for tx in ("tx-1", "tx-2") for w in ("w-1", "w-2")}

    assert len(ids) == 4
    # the two ids are kept apart: moving a character from one to the other changes the id
    assert alert_id("ab", "c") != alert_id("a", "bc")


def test_same_transaction_decided_twice_gets_the_same_alert_id():
    enriched = make_enriched(tx_type="withdrawal")
    first = decider().decide(enriched, [hit("blocklist", "high")], 0.1, FEATURES, DETECTED_AT)
    again = decider().decide(enriched, [hit("blocklist", "high")], 0.2, FEATURES, DETECTED_AT + 9)

    assert first.alert_id == again.alert_id == alert_id(enriched.tx.tx_id, enriched.tx.wallet_id)


# ---------------------------------------------------------------- when and how severe


def test_no_hits_and_a_low_score_give_no_alert():
    assert decide(score=0.0) is None
    assert decide(score=ALERT_AT - 1e-6) is None


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        (["low"], "low"),
        (["medium", "high"], "high"),
        (["high", "medium"], "high"),
        (["low", "critical", "medium"], "critical"),
        (["medium", "medium"], "medium"),
    ],
)
def test_severity_is_the_highest_of_the_hits(severities, expected):
    hits = [hit(f"rule_{i}", s) for i, s in enumerate(severities)]

    assert decide(hits, score=0.1).severity == expected


def test_model_score_alone_alerts_at_the_threshold():
    alert = decide(score=ALERT_AT)

    assert alert is not None
    assert alert.rule_ids == (MODEL_RULE_ID,)
    assert alert.severity == "high"
    assert alert.score == ALERT_AT
    assert alert.reasons == (f"model score {ALERT_AT:.3f} >= {ALERT_AT}",)


def test_model_score_at_the_critical_threshold_is_critical():
    assert decide(score=CRITICAL_AT).severity == "critical"
    assert decide(score=CRITICAL_AT - 1e-6).severity == "high"


def test_critical_score_raises_a_medium_rule_hit_to_critical():
    alert = decide([hit("velocity_burst", "medium")], score=CRITICAL_AT)

    assert alert.severity == "critical"
    assert alert.rule_ids == ("velocity_burst", MODEL_RULE_ID)


def test_low_score_leaves_the_rule_severity():
    alert = decide([hit("geo_jump", "medium")], score=0.05)

    assert alert.rule_ids == ("geo_jump",)
    assert alert.severity == "medium"
    assert alert.score == 0.05


def test_rule_ids_are_sorted_unique_with_the_model_last():
    hits = [hit("structuring", "high"), hit("blocklist", "critical"), hit("structuring", "high")]

    alert = decide(hits, score=0.95)

    assert alert.rule_ids == ("blocklist", "structuring", MODEL_RULE_ID)
    assert len(alert.reasons) == 4


def test_alert_carries_the_transaction_features_and_versions():
    alert = decide([hit("blocklist", "high")], tx_type="withdrawal", wallet="w-7", ts=T0 + 5)

    assert (alert.wallet_id, alert.event_time_ms, alert.detected_at_ms) == (
        "w-7",
        T0 + 5,
        DETECTED_AT,
    )
    assert alert.tx_id.startswith("tx-")
    assert list(alert.features) == list(FEATURE_NAMES)
    assert list(alert.features.values()) == FEATURES
    assert (alert.model_version, alert.rules_version) == ("gbt-test", "rules-test")


def test_shipped_thresholds_are_ordered():
    assert 0.0 < ALERT_AT <= CRITICAL_AT <= 1.0


# ---------------------------------------------------------------- wire format


@pytest.mark.parametrize(
    ("hits", "score"),
    [
        ([], ALERT_AT),
        ([], 1.0),
        ([hit("velocity_burst", "medium")], 0.0),
        ([hit("blocklist", "critical"), hit("rapid_in_out", "high")], 0.999),
    ],
)
def test_alert_json_validates_against_the_alert_contract(hits, score):
    alert = decide(hits, score=score)
    doc = orjson.loads(alert.to_json())

    alert_validator().validate(doc)
    assert doc["severity"] in SEVERITIES
    assert doc["alert_id"] == alert.alert_id
    assert parse_event_time(doc["event_time"], False) == alert.event_time_ms
    assert parse_event_time(doc["detected_at"], False) == DETECTED_AT


@pytest.mark.parametrize(
    "ms",
    [0, 1, 999, 1_772_439_330_123, 1_772_439_330_999, 1_709_164_799_999, 4_102_444_799_999],
)
def test_iso_ms_round_trips_through_event_time_parsing(ms):
    text = iso_ms(ms)

    assert len(text) == len("2026-03-02T08:15:30.123Z")
    assert parse_event_time(text, False) == ms
