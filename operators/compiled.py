"""Compiled (Cython) builds of the per-record Python, used only while they match the source.

The modules in `COMPILED_MODULES` are plain Python that runs once or more per record on the
job's bottleneck thread (README, "Performance"). `python -m pipeline compile` (part of
`make setup`) compiles them unchanged with Cython into `build/compiled/<package>/` and
writes a manifest with the SHA-256 of every source it compiled. At import,
`operators/__init__.py` and `models/__init__.py` put that folder in front of the
package's `__path__`, so `import operators.validate` loads the extension module, but only
when every listed source still has its manifest hash, the build is for this interpreter,
and `FRAUD_COMPILED` is not `0`. Otherwise the packages stay pure Python: an edited
source is never shadowed by a stale build.

No third-party import here: this runs inside every Flink Python worker at package import.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Git-ignored; `make clean` removes it (then everything runs as pure Python).
COMPILED_DIR = PROJECT_ROOT / "build" / "compiled"
#: In a build folder: the interpreter it is for and the hash of every compiled source.
MANIFEST_NAME = "manifest.json"
#: `FRAUD_COMPILED=0` runs the pure-Python modules even when a matching build exists.
ENV_SWITCH = "FRAUD_COMPILED"

#: Per-record modules worth compiling, as paths relative to the project root. Not here:
#: package `__init__`s, this module, and modules that only wire things up or load data.
COMPILED_MODULES = (
    "models/features.py",
    "operators/blocklist.py",
    "operators/decide.py",
    "operators/dedupe.py",
    "operators/detectors.py",
    "operators/enrich.py",
    "operators/event.py",
    "operators/fan_out_dusting.py",
    "operators/geo.py",
    "operators/geo_jump.py",
    "operators/peel_chain.py",
    "operators/rapid_in_out.py",
    "operators/round_trip.py",
    "operators/structuring.py",
    "operators/validate.py",
    "operators/velocity_burst.py",
    "operators/wallet_risk.py",
)


def source_hashes(root: Path = PROJECT_ROOT) -> dict[str, str]:
    """SHA-256 of every module in `COMPILED_MODULES` under `root`."""
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in COMPILED_MODULES}


def interpreter_tag() -> str:
    """What a build must match to be loadable: CPython version and platform."""
    return f"{sys.implementation.cache_tag}-{sys.platform}-{os.uname().machine}"


def build_state(compiled_dir: Path = COMPILED_DIR, root: Path = PROJECT_ROOT) -> str:
    """'current', or why the compiled build is not used: 'missing', 'stale', 'other-python'."""
    try:
        manifest = json.loads((compiled_dir / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return "missing"
    if manifest.get("interpreter") != interpreter_tag():
        return "other-python"
    try:
        current = source_hashes(root)
    except OSError:
        return "stale"
    return "current" if manifest.get("sources") == current else "stale"


_STATE: str | None = None


def _state() -> str:
    """`build_state()`, or 'disabled' by `FRAUD_COMPILED=0`; decided once per process."""
    global _STATE
    if _STATE is None:
        _STATE = "disabled" if os.environ.get(ENV_SWITCH) == "0" else build_state()
    return _STATE


def active() -> bool:
    """True when this process loads the compiled modules."""
    return _state() == "current"


def status() -> str:
    """One line for summaries and benchmarks: which implementation runs, and why."""
    state = _state()
    if state == "current":
        return f"compiled (Cython, {COMPILED_DIR.relative_to(PROJECT_ROOT)})"
    why = {
        "disabled": f"{ENV_SWITCH}=0",
        "missing": "no build: python -m pipeline compile",
        "stale": "sources changed since the build: python -m pipeline compile",
        "other-python": "built for another interpreter: python -m pipeline compile",
    }[state]
    return f"pure Python ({why})"


def package_path(package: str, path: list[str]) -> list[str]:
    """`path` (a package's `__path__`) with its compiled folder first, when active."""
    folder = COMPILED_DIR / package
    if active() and folder.is_dir() and str(folder) not in path:
        return [str(folder), *path]
    return path
