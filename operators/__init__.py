"""Per-record operators as plain Python; Flink wiring lives in `pipeline/`."""

from .compiled import package_path

__path__ = package_path(__name__, __path__)
