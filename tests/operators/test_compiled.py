"""The compiled (Cython) per-record modules: used when current, never when stale, and
giving exactly the pure-Python outputs (operators/compiled.py, pipeline/compile.py)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from operators import compiled
from pipeline.config import PROJECT_ROOT
from tests.jobs import run_checked

# Replays a dataset through WalletRisk + scorer + decider and prints which build ran and a
# digest of everything the logic produced (features, scores, alerts, DLQ reasons and
# details, duplicates), so two interpreters' outputs can be compared exactly.
_DIGEST = r"""
import hashlib, json, re, sys
import operators.validate, operators.compiled
from pipeline.components import Components
from pipeline.config import load_config
from pipeline.offline import iter_records, replay
path, fmt = sys.argv[1], sys.argv[2]
cfg = load_config({"source.path": path, "source.format": fmt})
result = replay(list(iter_records(cfg.resolve(cfg.source.path))), Components(cfg), score=True)
h = hashlib.sha256()
for s in result.scored:
    h.update(repr((s.view.event.tx.tx_id, s.view.mirrored, s.features, s.hits)).encode())
h.update(repr(result.scores.tolist()).encode())
for a in result.alerts:
    alert = json.loads(a.to_json())
    del alert["detected_at"]  # the replay's wall clock
    h.update(json.dumps(alert, sort_keys=True).encode())
for raw, r in result.rejections:
    detail = re.sub(r"now \(\d+\)", "now", r.detail)  # the replay's wall clock
    h.update(repr((raw, r.reason, detail)).encode())
h.update(repr(result.duplicates).encode())
print(json.dumps({
    "module": operators.validate.__file__,
    "active": operators.compiled.active(),
    "counts": [len(result.scored), len(result.alerts), len(result.rejections),
               len(result.duplicates)],
    "digest": h.hexdigest(),
}))
"""


def _replay(dataset: Path, fmt: str, compiled_on: bool) -> dict:
    proc = run_checked(
        [sys.executable, "-c", _DIGEST, str(dataset), fmt],
        env={compiled.ENV_SWITCH: "1" if compiled_on else "0"},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_test_session_runs_the_compiled_modules():
    """`make test` compiles first (make setup), so a failed or skipped build fails here."""
    import models.features
    import operators.wallet_risk

    assert compiled.build_state() == "current", compiled.status()
    if os.environ.get(compiled.ENV_SWITCH) == "0":
        pytest.skip("FRAUD_COMPILED=0: this session runs pure Python on purpose")
    assert compiled.active()
    for module in (operators.wallet_risk, models.features):
        assert Path(module.__file__).is_relative_to(compiled.COMPILED_DIR), module.__file__
        assert module.__file__.endswith(".so")


@pytest.mark.parametrize(
    "dataset, fmt",
    [
        (PROJECT_ROOT / "datasets" / "sample_transactions.csv", "csv"),
        (PROJECT_ROOT / "datasets" / "hostile" / "corpus.jsonl", "jsonl"),
    ],
    ids=["bundled-sample", "hostile-corpus"],
)
def test_compiled_and_pure_python_give_identical_outputs(dataset, fmt):
    assert dataset.is_file(), dataset
    native = _replay(dataset, fmt, compiled_on=True)
    pure = _replay(dataset, fmt, compiled_on=False)
    assert native["active"] and native["module"].endswith(".so"), native
    assert not pure["active"] and pure["module"].endswith(".py"), pure
    assert native["counts"][0] > 0 and native["counts"] == pure["counts"]
    assert native["digest"] == pure["digest"]


def _fake_build(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the compiled sources and a manifest matching them (no compiling)."""
    root, out = tmp_path / "src", tmp_path / "compiled"
    for rel in compiled.COMPILED_MODULES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT_ROOT / rel, root / rel)
    out.mkdir()
    manifest = {"interpreter": compiled.interpreter_tag(), "sources": compiled.source_hashes(root)}
    (out / compiled.MANIFEST_NAME).write_text(json.dumps(manifest))
    return root, out


def test_a_build_matching_every_source_is_current(tmp_path):
    root, out = _fake_build(tmp_path)
    assert compiled.build_state(out, root) == "current"


def test_an_edited_source_makes_the_build_stale(tmp_path):
    root, out = _fake_build(tmp_path)
    with open(root / "operators" / "validate.py", "a") as f:
        f.write("\n# edited after the build\n")
    assert compiled.build_state(out, root) == "stale"


def test_a_build_for_another_interpreter_or_none_is_not_used(tmp_path):
    root, out = _fake_build(tmp_path)
    manifest = json.loads((out / compiled.MANIFEST_NAME).read_text())
    manifest["interpreter"] = "cpython-39-linux-x86_64"
    (out / compiled.MANIFEST_NAME).write_text(json.dumps(manifest))
    assert compiled.build_state(out, root) == "other-python"
    assert compiled.build_state(tmp_path / "nothing", root) == "missing"
    (out / compiled.MANIFEST_NAME).write_text("{not json")
    assert compiled.build_state(out, root) == "missing"
