"""Train the fraud model on generator data and export it to ONNX, with its model card.

    python -m models.train            # ~400k generated events → models/fraud_model.onnx,
                                      # models/model_card.json, models/MODEL_CARD.md

Features come from `pipeline.offline.replay`, i.e. the same `WalletRisk` code the job runs,
so training and streaming features cannot drift apart. The held-out split is by time:
the model is evaluated on the last quarter of event time, never seen in training.
Needs the `train` extra (scikit-learn, skl2onnx, onnx).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from models.features import FEATURE_NAMES, N_FEATURES

MODELS_DIR = Path(__file__).resolve().parent
MODEL_PATH = MODELS_DIR / "fraud_model.onnx"
CARD_JSON = MODELS_DIR / "model_card.json"
CARD_MD = MODELS_DIR / "MODEL_CARD.md"

TRAIN_EVENTS = 400_000
TRAIN_SEED = 11  # not the sample's seed: the committed sample stays unseen by training
TEST_SHARE = 0.25
ONNX_INPUT = "features"


def generate(events: int, seed: int, workdir: Path) -> tuple[Path, Path, Path]:
    from datasets.generator import Config, generate_files

    tx, labels, wallets = workdir / "tx.csv", workdir / "labels.csv", workdir / "wallets.csv"
    generate_files(Config(events=events, seed=seed), tx, labels, wallets)
    return tx, labels, wallets


def build_dataset(tx: Path, labels: Path, wallets: Path):
    """Features, labels and event times of every valid, new own transaction."""
    from pipeline.components import Components
    from pipeline.config import load_config
    from pipeline.offline import iter_records, replay

    cfg = load_config({"reference.wallets_file": str(wallets), "source.path": str(tx)})
    result = replay(iter_records(tx), Components(cfg), score=False)
    typology = {}
    with open(labels, newline="") as f:
        for row in csv.DictReader(f):
            if row["tx_id"] and row["noise"] != "malformed":
                typology[row["tx_id"]] = row["typology"]
    X = np.array([s.features for s in result.scored], dtype=np.float32)
    y = np.array([typology.get(s.view.event.tx.tx_id, "none") != "none" for s in result.scored])
    ts = np.array([s.view.event.tx.event_time_ms for s in result.scored], dtype=np.int64)
    kinds = np.array([typology.get(s.view.event.tx.tx_id, "none") for s in result.scored])
    return X, y.astype(np.int64), ts, kinds


def recall_at_fpr(y_true: np.ndarray, scores: np.ndarray, fpr: float) -> tuple[float, float]:
    """Recall at the score threshold whose false-positive rate is at most `fpr`."""
    negatives = np.sort(scores[y_true == 0])[::-1]
    k = int(np.floor(fpr * len(negatives)))
    threshold = negatives[k] if k < len(negatives) else -np.inf
    recall = float((scores[y_true == 1] > threshold).mean()) if (y_true == 1).any() else 0.0
    return recall, float(threshold)


def train(events: int = TRAIN_EVENTS, seed: int = TRAIN_SEED) -> dict:
    from skl2onnx import to_onnx
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score, roc_auc_score

    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        X, y, ts, kinds = build_dataset(*generate(events, seed, Path(tmp)))
    split_ts = int(np.quantile(ts, 1 - TEST_SHARE))
    train_mask, test_mask = ts < split_ts, ts >= split_ts

    model = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.1, max_leaf_nodes=15, l2_regularization=1.0, random_state=0
    )
    model.fit(X[train_mask], y[train_mask])
    onx = to_onnx(
        model,
        initial_types=[(ONNX_INPUT, _float_tensor_type())],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    payload = onx.SerializeToString()
    MODEL_PATH.write_bytes(payload)

    # Metrics from the exported ONNX model itself: what the job will run.
    from operators.scoring import OnnxScorer

    test_scores = OnnxScorer(MODEL_PATH).score_batch(X[test_mask])
    y_test = y[test_mask]
    recall, threshold = recall_at_fpr(y_test, test_scores, 0.01)
    per_typology = {}
    for kind in sorted(set(kinds[test_mask]) - {"none"}):
        sel = kinds[test_mask] == kind
        per_typology[kind] = {
            "test_transactions": int(sel.sum()),
            "recall_at_1pct_fpr": float((test_scores[sel] > threshold).mean()),
        }
    card = {
        "model_version": "gbt-" + hashlib.sha256(payload).hexdigest()[:12],
        "created_at": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "algorithm": "scikit-learn HistGradientBoostingClassifier "
        "(150 iterations, 15 leaves) exported with skl2onnx",
        "onnx_input": ONNX_INPUT,
        "features": list(FEATURE_NAMES),
        "data": {
            "source": f"python -m datasets.generator --events {events} --seed {seed}",
            "transactions": len(y),
            "positives": int(y.sum()),
            "split": f"by event time: train before {_iso(split_ts)}, test from it "
            f"({TEST_SHARE:.0%} of events)",
            "train_transactions": int(train_mask.sum()),
            "test_transactions": int(test_mask.sum()),
            "test_positives": int(y_test.sum()),
        },
        "metrics_test": {
            "average_precision": float(average_precision_score(y_test, test_scores)),
            "roc_auc": float(roc_auc_score(y_test, test_scores)),
            "recall_at_1pct_fpr": recall,
            "score_threshold_at_1pct_fpr": threshold,
        },
        "recall_at_1pct_fpr_by_typology": per_typology,
        "training_seconds": round(time.time() - started, 1),
    }
    CARD_JSON.write_text(json.dumps(card, indent=2) + "\n")
    CARD_MD.write_text(render_card(card))
    return card


def _float_tensor_type():
    from skl2onnx.common.data_types import FloatTensorType

    return FloatTensorType([None, N_FEATURES])


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_card(card: dict) -> str:
    m, d = card["metrics_test"], card["data"]
    recall = f"{m['recall_at_1pct_fpr']:.4f} (score > {m['score_threshold_at_1pct_fpr']:.4f})"
    rows = "\n".join(
        f"| `{k}` | {v['test_transactions']} | {v['recall_at_1pct_fpr']:.3f} |"
        for k, v in card["recall_at_1pct_fpr_by_typology"].items()
    )
    feats = "\n".join(f"{i + 1}. `{n}`" for i, n in enumerate(card["features"]))
    return f"""# Model card: crypto transaction fraud score

Generated by `python -m models.train` on {card["created_at"]}; do not edit by hand.

- **Version:** `{card["model_version"]}` (hash of the ONNX file; recorded in every alert)
- **Model:** {card["algorithm"]}; input `{card["onnx_input"]}` float32[n, {len(card["features"])}],
  output P(fraud) (second column of `probabilities`).
- **Use:** scores every valid transaction inside the Flink job (`score-model` operator); an
  alert is raised at `decision.alert_score_threshold`. It complements the rule detectors.

## Data
- {d["source"]}: synthetic activity with labelled fraud typologies (docs/typologies.md).
- {d["transactions"]:,} valid own transactions, {d["positives"]:,} labelled fraud.
- Split {d["split"]}: {d["train_transactions"]:,} train, {d["test_transactions"]:,} test
  ({d["test_positives"]:,} fraud).

## Metrics on the held-out (later) period
| metric | value |
|---|---|
| average precision | {m["average_precision"]:.4f} |
| ROC AUC | {m["roc_auc"]:.4f} |
| recall at 1% false-positive rate | {recall} |

Recall at 1% FPR by typology:

| typology | test transactions | recall |
|---|---|---|
{rows}

## Features (same code in training and streaming: `models/features.py`)
{feats}

## Limits
Trained on synthetic data only; the typology mix and rates are the generator's. Retrain on
labelled production history (the warehouse's training view) before relying on the score.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.train", description=__doc__)
    parser.add_argument("--events", type=int, default=TRAIN_EVENTS)
    parser.add_argument("--seed", type=int, default=TRAIN_SEED)
    args = parser.parse_args(argv)
    card = train(args.events, args.seed)
    print(json.dumps(card["metrics_test"], indent=2))
    print(f"wrote {MODEL_PATH}, {CARD_JSON}, {CARD_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
