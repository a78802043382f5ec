"""risk_tier: a model score (and the wallet's KYC tier) as low | medium | high | critical."""

from __future__ import annotations

from pyflink.table import DataTypes

from operators.event import SEVERITIES

from .placement import PlacedFunction, placed_udf

MEDIUM_SCORE = 0.5  # below this a verified wallet's transaction is low risk


def risk_tier(
    score: float | None, kyc_tier: int | None, high_score: float, critical_score: float
) -> str | None:
    """Tier from the score: ≥ `critical_score` critical, ≥ `high_score` high (the decision
    thresholds of `[decision]`), ≥ 0.5 medium, else low; an unverified wallet (KYC tier 0
    or unknown) is one tier higher, up to high (only the score makes a tier critical)."""
    if score is None:
        return None
    if score >= critical_score:
        return "critical"
    tier = 2 if score >= high_score else 1 if score >= MEDIUM_SCORE else 0
    if not kyc_tier:
        tier = min(tier + 1, 2)
    return SEVERITIES[tier]


class RiskTier(PlacedFunction):
    def __init__(self, high_score: float, critical_score: float) -> None:
        self._high = high_score
        self._critical = critical_score

    def eval(self, score: float | None, kyc_tier: int | None) -> str | None:
        return risk_tier(score, kyc_tier, self._high, self._critical)


def risk_tier_udf(high_score: float, critical_score: float):
    return placed_udf(RiskTier(high_score, critical_score), DataTypes.STRING())
