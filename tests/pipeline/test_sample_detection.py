"""The headline evaluation: the committed sample replayed offline with the shipped model.

Every injected typology instance must be alerted by its own rule, and ordinary wallets'
transactions must (almost) never alert. The labels are datasets/fraud_labels.csv.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from operators.decide import MODEL_RULE_ID
from operators.detectors import DETECTOR_CLASSES
from tests.factories import sample_labels, sample_replay

MAX_ORDINARY_ALERT_RATE = 0.01
MIN_MODEL_AUC = 0.95


def alerted_rules() -> dict[str, set[str]]:
    """tx_id -> rule ids of its alert(s)."""
    rules: dict[str, set[str]] = defaultdict(set)
    for alert in sample_replay().alerts:
        rules[alert.tx_id].update(alert.rule_ids)
    return rules


def instances() -> dict[tuple[str, str], set[str]]:
    """(typology, instance_id) -> the tx ids of its records."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for label in sample_labels():
        if label["typology"] != "none":
            out[(label["typology"], label["instance_id"])].add(label["tx_id"])
    return out


def ordinary_tx_ids() -> set[str]:
    return {
        label["tx_id"]
        for label in sample_labels()
        if label["typology"] == "none" and label["noise"] != "malformed"
    }


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties 1/2
    (the Mann-Whitney U statistic from average ranks)."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # average rank of each run of equal scores (1-based)
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, n in zip(first, counts, strict=True):
        ranks[order[start : start + n]] = start + (n + 1) / 2.0
    positives = labels.astype(bool)
    n_pos, n_neg = positives.sum(), (~positives).sum()
    u = ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def test_roc_auc_helper_on_known_cases():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert roc_auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.5, 0.8])) == 0.75
    assert roc_auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.5, 0.5, 0.8])) == 0.875


def test_roc_auc_helper_agrees_with_scikit_learn_when_installed():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 500)
    scores = np.round(rng.random(500) + 0.3 * y, 2)  # rounded: plenty of ties

    assert roc_auc(y, scores) == pytest.approx(metrics.roc_auc_score(y, scores), abs=1e-12)


def test_sample_has_instances_of_every_typology():
    typologies = {typology for typology, _ in instances()}

    assert typologies == set(DETECTOR_CLASSES)


def test_every_injected_instance_is_alerted_by_its_own_rule(capsys):
    rules = alerted_rules()
    total: dict[str, int] = defaultdict(int)
    detected: dict[str, int] = defaultdict(int)
    missed = []
    for (typology, instance_id), tx_ids in sorted(instances().items()):
        total[typology] += 1
        if any(typology in rules.get(tx_id, ()) for tx_id in tx_ids):
            detected[typology] += 1
        else:
            missed.append(instance_id)

    table = [f"{'typology':<18}{'instances':>10}{'detected':>10}"]
    table += [f"{t:<18}{total[t]:>10}{detected[t]:>10}" for t in DETECTOR_CLASSES]
    table += [f"{'all':<18}{sum(total.values()):>10}{sum(detected.values()):>10}"]
    with capsys.disabled():
        print("\nsample detection (offline replay, shipped model):\n" + "\n".join(table))

    assert missed == []


def test_ordinary_wallets_alert_rate_stays_under_1_percent(capsys):
    ordinary = ordinary_tx_ids()
    result = sample_replay()
    processed = sum(1 for s in result.scored if s.view.event.tx.tx_id in ordinary)
    alerts = [a for a in result.alerts if a.tx_id in ordinary]
    rate = len(alerts) / processed

    with capsys.disabled():
        print(
            f"\nordinary transactions: {processed}, alerted: {len(alerts)} "
            f"({rate:.4%}; rules: {sorted({r for a in alerts for r in a.rule_ids})})"
        )

    assert processed > 30_000
    assert rate < MAX_ORDINARY_ALERT_RATE


def test_detector_rules_never_alert_ordinary_transactions():
    # the generator keeps ordinary activity clear of every pattern (datasets/README.md)
    ordinary = ordinary_tx_ids()
    rule_alerts = [
        (a.tx_id, a.rule_ids)
        for a in sample_replay().alerts
        if a.tx_id in ordinary and set(a.rule_ids) - {MODEL_RULE_ID}
    ]

    assert rule_alerts == []


def test_each_detector_rule_fires_only_on_its_own_typology():
    typology_of = {label["tx_id"]: label["typology"] for label in sample_labels()}
    wrong = [
        (a.tx_id, rule, typology_of.get(a.tx_id))
        for a in sample_replay().alerts
        for rule in a.rule_ids
        if rule != MODEL_RULE_ID and typology_of.get(a.tx_id) != rule
    ]

    assert wrong == []


def test_model_score_alone_separates_fraud_from_ordinary(capsys):
    result = sample_replay()
    typology_of = {label["tx_id"]: label["typology"] for label in sample_labels()}
    y = np.array([typology_of[s.view.event.tx.tx_id] != "none" for s in result.scored])

    auc = roc_auc(y, result.scores)
    with capsys.disabled():
        print(f"\nmodel ROC AUC on the sample: {auc:.4f} ({y.sum()} fraud / {len(y)} transactions)")

    assert y.sum() > 500
    assert auc > MIN_MODEL_AUC


@pytest.mark.parametrize("typology", sorted(DETECTOR_CLASSES))
def test_alerts_on_each_typology_carry_a_severity_at_least_its_rules(typology):
    # e.g. structuring is high: an alert it raises cannot be reported as medium
    from operators.event import SEVERITY_RANK

    severity = DETECTOR_CLASSES[typology].severity if typology != "blocklist" else "high"
    alerts = [a for a in sample_replay().alerts if typology in a.rule_ids]

    assert alerts
    assert all(SEVERITY_RANK[a.severity] >= SEVERITY_RANK[severity] for a in alerts)
