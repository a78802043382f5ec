"""The hostile-input corpus (datasets/hostile/): every record gets exactly the outcome its
manifest declares when the pipeline's own logic replays it (no Flink; the minicluster run
is tests/pipeline/test_job_hostile_corpus.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from datasets.hostile_corpus import CORPUS, MANIFEST, SQL_INJECTION, read_manifest, render
from operators.validate import REASON_CODES, Rejection
from operators.wallet_risk import Duplicate, Scored, new_wallet_state
from pipeline.offline import iter_records, record_keys
from tests.factories import components

NOW_MS = 1_795_000_000_000  # 2026-11-18: the corpus's "future" is 2999, its valid events 2026


@pytest.fixture(scope="module")
def comps():
    return components("jsonl")


@pytest.fixture(scope="module")
def outcomes(comps) -> list:
    """The outcome of each corpus line, in file order (one wallet key per record)."""
    engine, states, result = comps.wallet_risk, {}, []
    for raw in iter_records(CORPUS):
        raw = raw.rstrip("\n")
        [(key, mirrored)] = record_keys(raw, "jsonl")  # no internal transfers in the corpus
        state = states.setdefault(key, new_wallet_state())
        result.append(engine.process(state, raw, mirrored, NOW_MS))
    return result


def _label(outcome) -> str:
    if isinstance(outcome, Scored):
        return "valid"
    if isinstance(outcome, Duplicate):
        return "duplicate"
    assert isinstance(outcome, Rejection), outcome
    return outcome.reason


def test_committed_corpus_and_manifest_are_what_the_builder_writes(comps):
    data, manifest = render(comps.cfg.source.max_record_bytes)

    assert CORPUS.read_bytes() == data, "run python -m datasets.hostile_corpus"
    assert MANIFEST.read_text(encoding="utf-8") == manifest


def test_corpus_has_at_least_30_kinds_and_every_reason_code():
    rows = read_manifest()
    kinds = [r["kind"] for r in rows]

    assert len(kinds) == len(set(kinds)) >= 30
    assert {r["expected"] for r in rows} - {"valid", "duplicate"} == set(REASON_CODES)


def test_every_corpus_record_gets_the_outcome_its_manifest_declares(outcomes):
    rows = read_manifest()
    got = {r["kind"]: _label(o) for r, o in zip(rows, outcomes, strict=True)}

    assert got == {r["kind"]: r["expected"] for r in rows}


def test_hostile_looking_valid_records_pass_verbatim(outcomes):
    valid = {o.view.event.tx.tx_id: o.view.event.tx for o in outcomes if isinstance(o, Scored)}

    assert valid["tx_hostile_002"].venue == SQL_INJECTION
    assert valid["tx_hostile_003"].device_id == "1' OR '1'='1"
    assert valid["tx_hostile_004"].wallet_id == "w_4'; DELETE FROM x;--"
    assert valid["tx_hostile_007"].venue == "Börse 東京 🚀"


def test_expected_dlq_reasons_count_exactly(outcomes):
    rows = read_manifest()
    dlq = Counter(o.reason for o in outcomes if isinstance(o, Rejection))

    assert dlq == Counter(
        r["expected"] for r in rows if r["expected"] not in ("valid", "duplicate")
    )
    assert sum(dlq.values()) + sum(isinstance(o, (Scored, Duplicate)) for o in outcomes) == len(
        rows
    )
