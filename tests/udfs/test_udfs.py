"""UDFs of udfs/ called directly (no JVM): the same numbers as the job's own operators."""

from __future__ import annotations

import numpy as np
import pytest

from models.features import N_FEATURES
from tests.factories import components, sample_replay
from udfs.geo import haversine_km
from udfs.risk import risk_tier
from udfs.scoring import FEATURE_COLUMNS, FraudScore


def test_fraud_score_equals_the_jobs_scorer_on_the_same_features():
    comps = components("csv")
    replay = sample_replay()
    matrix = np.array([s.features for s in replay.scored[:2000]], dtype=np.float32)
    udf = FraudScore(str(comps.cfg.resolve(comps.cfg.model.path)))
    udf.open(None)
    # A SQL row hands the features over as DOUBLEs, one argument each.
    scores = np.array([udf.eval(*map(float, row)) for row in matrix])
    np.testing.assert_array_equal(scores, [comps.scorer.score_one(row) for row in matrix])
    # The job scores its micro-batches in one call: the same model, float32 rounding apart.
    np.testing.assert_allclose(scores, replay.scores[:2000], rtol=0, atol=1e-6)
    assert len(FEATURE_COLUMNS) == N_FEATURES


def test_fraud_score_is_null_when_a_feature_is():
    udf = FraudScore(str(components("csv").cfg.resolve("models/fraud_model.onnx")))
    assert udf.eval(*([0.5] * (N_FEATURES - 1)), None) is None


def test_fraud_score_rejects_a_wrong_number_of_features():
    udf = FraudScore(str(components("csv").cfg.resolve("models/fraud_model.onnx")))
    with pytest.raises(ValueError, match="takes 18 features"):
        udf.eval(1.0)


def test_haversine_handles_nulls():
    assert haversine_km(None, 1.0, 2.0, 3.0) is None
    assert haversine_km(0.0, 0.0, 0.0, 0.0) == 0.0


@pytest.mark.parametrize(
    ("score", "kyc", "tier"),
    [
        (0.1, 2, "low"),
        (0.1, 0, "medium"),
        (0.6, 2, "medium"),
        (0.6, 0, "high"),
        (0.92, 1, "high"),
        (0.92, 0, "high"),
        (0.98, 3, "critical"),
        (None, 1, None),
    ],
)
def test_risk_tier(score, kyc, tier):
    assert risk_tier(score, kyc, high_score=0.9, critical_score=0.97) == tier
