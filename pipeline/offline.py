"""The job's logic as a plain single-process Python loop over raw records, in file order.

Same operators as the Flink job (`WalletRisk`, the ONNX scorer, the decider), same
per-wallet order, no Flink: used to build the model's training data (so training and
streaming share one feature code path), by the parity test, and as the benchmark's
baseline. Per-wallet state lives in dicts instead of Flink keyed state.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import orjson

from operators.decide import Alert
from operators.validate import Rejection
from operators.wallet_risk import Duplicate, Scored, new_wallet_state

from .components import Components
from .job import CSV_HEADER


@dataclass(slots=True)
class OfflineResult:
    scored: list[Scored]
    scores: np.ndarray
    alerts: list[Alert]
    rejections: list[tuple[str, Rejection]]  # (raw, rejection)
    duplicates: list[Duplicate]
    record_us: list[float]  # per-record processing time, when asked for (benchmark)


def record_keys(raw: str, fmt: str) -> list[tuple[str, bool]]:
    """(key, mirrored) copies of a record: what the job's key-extraction SQL produces."""
    if fmt == "csv":
        if raw.rstrip("\r\n") == CSV_HEADER:
            return []
        parts = raw.rstrip("\r\n").split(",")
        wallet = parts[3] if len(parts) > 3 else ""
        keys = [(wallet, False)]
        if len(parts) > 4 and parts[2] == "transfer" and parts[4] and parts[4] != wallet:
            keys.append((parts[4], True))
        return keys
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [("", False)]
    if not isinstance(obj, dict):
        return [("", False)]
    wallet = _json_value(obj.get("wallet_id")) or ""
    keys = [(wallet, False)]
    cp = _json_value(obj.get("counterparty_wallet"))
    if _json_value(obj.get("tx_type")) == "transfer" and cp and cp != wallet:
        keys.append((cp, True))
    return keys


def _json_value(v) -> str | None:
    # JSON_VALUE returns scalars as strings and NULL for objects, arrays and null.
    if v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def replay(
    records: Iterable[str],
    components: Components,
    score: bool = True,
    batch_size: int = 4096,
    time_records: bool = False,
) -> OfflineResult:
    """Run every record through the pipeline's logic; scores in batches if `score`."""
    engine = components.wallet_risk
    fmt = components.cfg.source.format
    states: dict[str, dict] = {}
    scored, rejections, duplicates, record_us = [], [], [], []
    now_ms = time.time_ns() // 1_000_000
    clock = time.perf_counter_ns
    for raw in records:
        started = clock() if time_records else 0
        raw = raw.rstrip("\n")
        for key, mirrored in record_keys(raw, fmt):
            state = states.get(key)
            if state is None:
                state = states[key] = new_wallet_state()
            outcome = engine.process(state, raw, mirrored, now_ms)
            if outcome is None:
                continue
            if isinstance(outcome, Scored):
                scored.append(outcome)
            elif isinstance(outcome, Rejection):
                rejections.append((raw, outcome))
            elif isinstance(outcome, Duplicate):
                duplicates.append(outcome)
        if time_records:
            record_us.append((clock() - started) / 1000)
    scores = np.zeros(len(scored))
    alerts = []
    scoring_started = time.perf_counter_ns()
    if score and scored:
        scorer = components.scorer
        for start in range(0, len(scored), batch_size):
            chunk = scored[start : start + batch_size]
            scores[start : start + len(chunk)] = scorer.score_batch(
                np.array([s.features for s in chunk], dtype=np.float32)
            )
        decider = components.decider
        for s, sc in zip(scored, scores, strict=True):
            alert = decider.decide(s.view.event, s.hits, float(sc), s.features, now_ms)
            if alert is not None:
                alerts.append(alert)
    if time_records and scored:
        # Batched scoring cost, spread over the records (the baseline's per-record share).
        share = (clock() - scoring_started) / 1000 / len(record_us)
        record_us = [us + share for us in record_us]
    return OfflineResult(scored, scores, alerts, rejections, duplicates, record_us)


def iter_records(path) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        yield from f
