"""Model features (shared by training and the job), training, and the ONNX model."""

from operators.compiled import package_path

__path__ = package_path(__name__, __path__)
