"""fraud_score: the ONNX model's score of one row's 18 model features.

Arguments are the features in `models.features.FEATURE_NAMES` order (the processed
stream's `f_<name>` columns). A row function, which runs in the job's own interpreter in
thread mode. A vectorized (pandas) version ran in a separate Python worker process
whatever the execution mode, and that worker's round trip at every watermark, bundle end
and checkpoint held up the rules' task: the keyed function upstream then waited on its
output 15 % of the time (`make bench`, README "Performance"). Rules call it on the few
rows their WHERE keeps (`udfs/placement.py`).
"""

from __future__ import annotations

from pathlib import Path

from pyflink.table import DataTypes

from models.features import FEATURE_NAMES, N_FEATURES
from operators.scoring import OnnxScorer

from .placement import PlacedFunction, placed_udf

FEATURE_COLUMNS = tuple(f"f_{name}" for name in FEATURE_NAMES)


class FraudScore(PlacedFunction):
    """P(fraud) of one feature row, from the same `OnnxScorer` the job uses; NULL when a
    feature is NULL."""

    def __init__(self, model_path: str) -> None:
        self._model_path = model_path
        self._scorer: OnnxScorer | None = None

    def open(self, function_context) -> None:
        self._scorer = OnnxScorer(Path(self._model_path))

    def eval(self, *features: float | None) -> float | None:
        if len(features) != N_FEATURES:
            raise ValueError(f"fraud_score takes {N_FEATURES} features, got {len(features)}")
        if None in features:
            return None
        if self._scorer is None:  # called outside Flink (tests)
            self.open(None)
        return self._scorer.score_one(features)


def fraud_score_udf(model_path: Path):
    return placed_udf(FraudScore(str(model_path)), DataTypes.DOUBLE())
