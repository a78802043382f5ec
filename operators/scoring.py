"""ONNX model scoring inside the job: one session per operator instance, loaded in `open()`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.features import N_FEATURES


class OnnxScorer:
    """Fraud probability in [0, 1] from a feature vector (`models.features.FEATURE_NAMES`).

    The exported model is a scikit-learn classifier converted without ZipMap, so its second
    output is a float tensor of class probabilities; column 1 is P(fraud).
    """

    def __init__(self, model_path: Path) -> None:
        opts = ort.SessionOptions()
        # One thread: the job already runs one scorer per parallel subtask on few cores.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or inputs[0].shape[-1] not in (N_FEATURES, None, "N"):
            raise ValueError(f"{model_path}: expected one input of {N_FEATURES} features")
        self._input = inputs[0].name
        self._output = self._session.get_outputs()[1].name
        self._one = np.zeros((1, N_FEATURES), dtype=np.float32)

    def score_one(self, features: list[float]) -> float:
        self._one[0, :] = features
        return float(self._session.run([self._output], {self._input: self._one})[0][0, 1])

    def score_batch(self, matrix: np.ndarray) -> np.ndarray:
        """Scores of a (n, N_FEATURES) matrix, as float64."""
        probs = self._session.run(
            [self._output], {self._input: np.asarray(matrix, dtype=np.float32)}
        )[0]
        return probs[:, 1].astype(np.float64)


def model_version(version_file: Path) -> str:
    """The model's version string from its card (`models/model_card.json`)."""
    with open(version_file, encoding="utf-8") as f:
        return json.load(f)["model_version"]
