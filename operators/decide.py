"""Decision: rule hits and the model score of one transaction become (at most) one alert."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from models.features import FEATURE_NAMES

from .event import SEVERITY_RANK, EnrichedTransaction, Hit

MODEL_RULE_ID = "model_score"


@dataclass(frozen=True, slots=True)
class DecisionSettings:
    alert_score_threshold: float
    critical_score_threshold: float
    model_version: str
    rules_version: str
    settings_version: int = 0  # runtime settings in force (pipeline/control*.py); 0 = config
    model_rule_enabled: bool = True  # False: a high score alone raises no alert (rule off)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert in the common schema (`contracts/alert.v1.schema.json`)."""

    alert_id: str
    tx_id: str
    wallet_id: str
    event_time_ms: int
    detected_at_ms: int
    rule_ids: tuple[str, ...]
    severity: str
    score: float
    model_version: str
    rules_version: str
    features: dict[str, float]
    reasons: tuple[str, ...]
    settings_version: int = 0

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "alert_id": self.alert_id,
                "tx_id": self.tx_id,
                "wallet_id": self.wallet_id,
                "event_time": iso_ms(self.event_time_ms),
                "detected_at": iso_ms(self.detected_at_ms),
                "rule_ids": list(self.rule_ids),
                "severity": self.severity,
                "score": self.score,
                "model_version": self.model_version,
                "rules_version": self.rules_version,
                "settings_version": self.settings_version,
                "features": self.features,
                "reasons": list(self.reasons),
            }
        ).decode()


def alert_id(tx_id: str, wallet_id: str) -> str:
    """Deterministic id: the same transaction always yields the same alert id (replays dedupe)."""
    return hashlib.sha256(f"{tx_id}|{wallet_id}".encode()).hexdigest()[:32]


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2026-03-02T08:15:30.123Z."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Decider:
    """Alert when any rule hits or the score reaches the alert threshold."""

    __slots__ = ("_s",)

    def __init__(self, settings: DecisionSettings) -> None:
        self._s = settings

    @property
    def settings(self) -> DecisionSettings:
        return self._s

    def decide(
        self,
        event: EnrichedTransaction,
        hits: list[Hit],
        score: float,
        features: list[float],
        detected_at_ms: int,
    ) -> Alert | None:
        s = self._s
        model_hit = s.model_rule_enabled and score >= s.alert_score_threshold
        if not hits and not model_hit:
            return None
        rule_ids = sorted({h.rule_id for h in hits})
        severities = [h.severity for h in hits]
        reasons = [h.reason for h in hits]
        if model_hit:
            rule_ids.append(MODEL_RULE_ID)
            severities.append("critical" if score >= s.critical_score_threshold else "high")
            reasons.append(f"model score {score:.3f} >= {s.alert_score_threshold}")
        elif score >= s.critical_score_threshold:
            severities.append("critical")
        tx = event.tx
        return Alert(
            alert_id=alert_id(tx.tx_id, tx.wallet_id),
            tx_id=tx.tx_id,
            wallet_id=tx.wallet_id,
            event_time_ms=tx.event_time_ms,
            detected_at_ms=detected_at_ms,
            rule_ids=tuple(rule_ids),
            severity=max(severities, key=SEVERITY_RANK.__getitem__),
            score=score,
            model_version=s.model_version,
            rules_version=s.rules_version,
            features=dict(zip(FEATURE_NAMES, features, strict=True)),
            reasons=tuple(reasons),
            settings_version=s.settings_version,
        )
