"""fraud_score: the ONNX model's score as a vectorized (pandas) UDF, one model run per batch.

Arguments are the 18 model features in `models.features.FEATURE_NAMES` order (the
processed stream's `f_<name>` columns). Pandas UDFs always run in a separate Python
worker process, also when the job is configured for thread mode (docs/toolchain-notes.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pyflink.table import DataTypes
from pyflink.table.udf import ScalarFunction, udf

from models.features import FEATURE_NAMES, N_FEATURES
from operators.scoring import OnnxScorer

FEATURE_COLUMNS = tuple(f"f_{name}" for name in FEATURE_NAMES)


class FraudScore(ScalarFunction):
    """P(fraud) of each row of a batch, from the same `OnnxScorer` the job uses."""

    def __init__(self, model_path: str) -> None:
        self._model_path = model_path
        self._scorer: OnnxScorer | None = None

    def open(self, function_context) -> None:
        self._scorer = OnnxScorer(Path(self._model_path))

    def eval(self, *features: pd.Series) -> pd.Series:
        if len(features) != N_FEATURES:
            raise ValueError(f"fraud_score takes {N_FEATURES} features, got {len(features)}")
        if self._scorer is None:  # called outside Flink (tests)
            self.open(None)
        matrix = np.column_stack([np.asarray(f, dtype=np.float32) for f in features])
        return pd.Series(self._scorer.score_batch(matrix))


def fraud_score_udf(model_path: Path):
    return udf(
        FraudScore(str(model_path)),
        result_type=DataTypes.DOUBLE(),
        func_type="pandas",
    )
