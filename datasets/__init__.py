"""Synthetic crypto transactions for the fraud pipeline: reference tables, generator, samples.

`python -m datasets.generator --help` generates datasets; `python -m datasets.refdata`
rewrites the static reference tables. See datasets/README.md.
"""

from pathlib import Path

DATASETS_DIR = Path(__file__).resolve().parent
REFERENCE_DIR = DATASETS_DIR / "reference"


class ConfigError(ValueError):
    """Generator arguments that cannot produce a dataset (shown as a usage error)."""
