"""Everything that happens to one record under its wallet's key, as plain Python.

validate → dedupe → enrich → detectors → features. The Flink `KeyedProcessFunction`
(`pipeline/functions.py`) and the offline replay (`pipeline/offline.py`, used by training,
the parity test and the benchmark's baseline) both call `WalletRisk.process`, so the
streaming job and the model's training data come from one code path.
"""

from __future__ import annotations

import copy
import gc
from dataclasses import dataclass
from hashlib import blake2b as _blake2b

from models.features import new_feature_state, update_and_compute

from .dedupe import DUPLICATE, NEW, TOO_LATE, Deduplicator
from .detectors import WalletDetectors
from .enrich import Enricher
from .event import EnrichedTransaction, Hit, WalletEvent, own_view, receiver_view
from .validate import DUPLICATE_CONFLICT, TOO_LATE_EVENT, Rejection, Validator, parse_record


@dataclass(slots=True)
class Scored:
    """A valid, new transaction with its detector hits and model features (own view)."""

    view: WalletEvent
    hits: list[Hit]
    features: list[float]


@dataclass(slots=True)
class Duplicate:
    """An exact resend of a transaction already processed: dropped and counted."""

    tx_id: str
    wallet_id: str


Outcome = Scored | Rejection | Duplicate | None  # None: a mirrored view, state only


def new_wallet_state() -> dict:
    return {"dedupe": Deduplicator.new_state(), "detectors": {}, "features": new_feature_state()}


def collect_garbage_rarely() -> None:
    """GC settings for a process that holds many wallet states (the keyed function, the
    benchmark's baseline). The cached states are many long-lived containers; default GC
    thresholds rescan them every few thousand allocations (measured: ~12% of the job's
    time). Per-record objects form no cycles, so collect rarely and never scan start-up
    data."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


class WalletRisk:
    """Per-wallet processing of raw records; holds no per-wallet data itself."""

    __slots__ = (
        "_dedupe",
        "_detectors",
        "_enricher",
        "_format",
        "_lateness",
        "_lenient",
        "_validator",
    )

    def __init__(
        self,
        validator: Validator,
        dedupe: Deduplicator,
        enricher: Enricher,
        detectors: WalletDetectors,
        fmt: str,
        allowed_lateness_ms: int | None = None,
    ) -> None:
        """`allowed_lateness_ms`: how far (event time) a new transaction may lie behind its
        wallet's newest event and still be processed; None = no limit (README, "Hostile
        input and late data")."""
        self._lateness = allowed_lateness_ms
        self._validator = validator
        self._dedupe = dedupe
        self._enricher = enricher
        self._detectors = detectors
        self._format = fmt
        self._lenient = fmt == "csv"

    def with_detectors(self, detectors: WalletDetectors) -> WalletRisk:
        """The same processing with other detectors (thresholds changed at runtime)."""
        clone = copy.copy(self)
        clone._detectors = detectors
        return clone

    def process(self, state: dict, raw: str, mirrored: bool, now_ms: int) -> Outcome:
        """Process one record for the wallet whose keyed `state` is given (mutated).

        `mirrored`: this is the receiver's copy of an internal transfer. Its problems are
        reported by the sender's copy, so an invalid or repeated mirrored copy is ignored.
        """
        rejection = self._validator.check_size(raw)
        if rejection is None:
            rec = parse_record(raw, self._format)
            if isinstance(rec, Rejection):
                rejection = rec
            else:
                tx = self._validator.validate(rec, now_ms, self._lenient)
                if isinstance(tx, Rejection):
                    rejection = tx
        if rejection is not None:
            return None if mirrored else rejection

        # The receiver's copy of a transfer is remembered apart from the wallet's own tx ids.
        seen_key = "in:" + tx.tx_id if mirrored else tx.tx_id
        verdict = self._dedupe.check(
            state["dedupe"], seen_key, _fingerprint(tx), tx.event_time_ms, self._lateness
        )
        if verdict != NEW:
            if mirrored:
                return None
            if verdict == DUPLICATE:
                return Duplicate(tx.tx_id, tx.wallet_id)
            if verdict == TOO_LATE:
                lag = state["dedupe"]["newest_ts"] - tx.event_time_ms
                return Rejection(
                    TOO_LATE_EVENT,
                    f"event_time {lag} ms behind the wallet's newest event "
                    f"(allowed lateness {self._lateness} ms)",
                )
            return Rejection(DUPLICATE_CONFLICT, f"tx_id {tx.tx_id} seen before with other content")

        event: EnrichedTransaction = self._enricher.enrich(tx)
        view = receiver_view(event) if mirrored else own_view(event)
        hits = self._detectors.run(state["detectors"], view)
        features = update_and_compute(state["features"], view)
        return None if mirrored else Scored(view, hits, features)


def _fingerprint(tx) -> str:
    """Stable content hash of a validated transaction (same across processes and restarts).

    The 0x1f-separated text of the fields, None as "", floats as repr (= str): the same
    text, hence the same hash, as ever, so fingerprints in restored state still match.
    One f-string: a join over a generator of str() calls costs three times as much.
    """
    usd = tx.amount_usd
    text = (
        f"{tx.event_time_ms}\x1f{tx.tx_type}\x1f{tx.wallet_id}\x1f{tx.counterparty_wallet or ''}"
        f"\x1f{tx.asset}\x1f{tx.amount!r}\x1f{'' if usd is None else repr(usd)}"
        f"\x1f{tx.chain or ''}\x1f{tx.tx_hash or ''}\x1f{tx.venue or ''}\x1f{tx.ip or ''}"
        f"\x1f{tx.country or ''}\x1f{tx.device_id or ''}"
    )
    return _blake2b(text.encode(), digest_size=8).hexdigest()
