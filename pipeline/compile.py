"""Build the compiled (Cython) per-record modules: `python -m pipeline compile`.

`operators/compiled.py` says which modules, where the build goes and when it is used. The
sources are compiled unchanged: Cython's annotation typing is off, so the compiled code
keeps Python's semantics exactly (an int stays an int where a hint says float), and
`tests/operators/test_compiled.py` checks that both builds give the same outputs.

Without Cython or a C compiler nothing fails: the build is skipped with a message and the
job runs the pure-Python modules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from operators.compiled import (
    COMPILED_DIR,
    COMPILED_MODULES,
    MANIFEST_NAME,
    PROJECT_ROOT,
    build_state,
    interpreter_tag,
    source_hashes,
)

# Directives for every module: Python 3 semantics, hints never turned into C types.
_DIRECTIVES = ("-3", "-X", "annotation_typing=False")


def ensure_compiled(force: bool = False, out: Path = COMPILED_DIR) -> str:
    """Compile when the build is missing or stale (or `force`); returns what happened."""
    if not force and build_state(out) == "current":
        return f"compiled modules up to date in {out}"
    try:
        import Cython
    except ImportError:
        return "Cython is not installed (pip install -e '.[dev]'): the job runs pure Python"
    if shutil.which(os.environ.get("CC", "cc")) is None:
        return "no C compiler (apt-get install gcc): the job runs pure Python"
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for rel in COMPILED_MODULES:
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT_ROOT / rel, target)
        # Cython names a module after its package (operators.validate) from the __init__.
        (target.parent / "__init__.py").touch()
    hashes = source_hashes(staging)  # exactly what gets compiled
    jobs = str(os.cpu_count() or 1)
    cmd = [sys.executable, "-m", "Cython.Build.Cythonize", "-i", "-q", "-j", jobs]
    done = subprocess.run(
        [*cmd, *_DIRECTIVES, *COMPILED_MODULES],
        cwd=staging,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        shutil.rmtree(staging, ignore_errors=True)
        return f"compiling failed, the job runs pure Python:\n{tail}"
    for path in list(staging.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".c"):
            path.unlink()
    shutil.rmtree(staging / "build", ignore_errors=True)
    manifest = {
        "interpreter": interpreter_tag(),
        "cython": Cython.__version__,
        "directives": list(_DIRECTIVES),
        "sources": hashes,
    }
    (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return f"compiled {len(COMPILED_MODULES)} modules with Cython {Cython.__version__} into {out}"
