"""ONNX model scoring inside the job: one session per operator instance, loaded in `open()`."""

from __future__ import annotations

import json
from collections.abc import Sequence
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
        # score_one runs the session through an IOBinding over two preallocated buffers:
        # `run()` validates and converts its feed and allocates the outputs on every call,
        # a quarter of the cost of scoring one row. The input OrtValue wraps `_one`'s
        # memory (CPU, no copy), so writing `_one` sets the next run's input, and only
        # the probabilities are bound as an output (the label output is not fetched).
        self._one = np.zeros((1, N_FEATURES), dtype=np.float32)
        self._probs = np.zeros((1, 2), dtype=np.float32)
        self._one_value = ort.OrtValue.ortvalue_from_numpy(self._one)
        self._binding = self._session.io_binding()
        self._binding.bind_ortvalue_input(self._input, self._one_value)
        self._binding.bind_output(
            self._output, "cpu", 0, np.float32, self._probs.shape, self._probs.ctypes.data
        )

    def score_one(self, features: Sequence[float]) -> float:
        """P(fraud) of one feature vector; not reentrant (one scorer per operator instance)."""
        self._one[0] = features
        self._session.run_with_iobinding(self._binding)
        return float(self._probs[0, 1])

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
