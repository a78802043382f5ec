"""The thin Flink functions around the plain-Python operators.

They only move state in and out and route outcomes to outputs; the logic lives in
`operators/` and `models/`. Each function builds its components in `open()` from the
(picklable) config, so nothing heavy is shipped with the job graph.
"""

from __future__ import annotations

import base64
import time
from collections import OrderedDict

import numpy as np
import orjson
from pyflink.common import Types
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import MapStateDescriptor

from operators.decide import Decider, iso_ms
from operators.validate import Rejection
from operators.wallet_risk import Duplicate, Scored, collect_garbage_rarely, new_wallet_state

from .components import Components
from .config import PipelineConfig
from .metrics import PipelineMetrics
from .origin import origin_fields, split_origin
from .packed_rows import pack_row
from .schemas import processed_values

DLQ_TAG = OutputTag("dlq", Types.STRING())
DUPLICATES_TAG = OutputTag("duplicates", Types.STRING())
ALERTS_TAG = OutputTag("alerts", Types.STRING())

# Wallet states kept deserialized in the operator; Flink state stays authoritative.
_STATE_CACHE_WALLETS = 200_000
# Where a wallet state records when it was last written (processing time, for expiry).
_TOUCHED = "touched_ms"


def dlq_record(
    raw: str, reason: str, detail: str, source: str, now_ms: int, origin: dict | None = None
) -> str:
    """A DLQ record (`contracts/dlq-record.v1.schema.json`) as a JSON line; `origin` is the
    record's exact place in its source (`pipeline/origin.py`), when the source named it."""
    original = base64.b64encode(raw.encode("utf-8", "surrogatepass")).decode("ascii")
    record = {
        "original": original,
        "reason": reason,
        "detail": detail,
        "source": source,
        "received_at": iso_ms(now_ms),
    }
    if origin is not None:
        record["origin"] = origin
    return orjson.dumps(record).decode()


class WalletRiskFunction(KeyedProcessFunction):
    """Per micro-batch of one state shard: validate → dedupe → enrich → detectors →
    features for every record, one batched ONNX call, then the decisions.

    Input: the `ShardBatcher`'s batches (`src/main/java/.../ShardBatcher.java`): parallel
    arrays of wallet keys and raw records plus a '0'/'1' mirrored flag per record, all of
    one shard, in arrival order. Emits the processed-zone row of every valid new
    transaction, packed (`pipeline/packed_rows.py`; the next task decodes it in the JVM);
    alerts, invalid records (DLQ) and exact resends (duplicates) go to side outputs as
    JSON lines.

    State: `wallet-risk-state`, a MapState under the shard key from wallet id to that
    wallet's recent tx ids (dedupe), detector and feature state. Serialising a wallet's
    state costs as much as all the detection work on a record, so changed states stay in
    memory (`_dirty`, per shard) and are written to Flink state when a *sync* batch
    arrives: the batcher sends one to every shard right before every checkpoint barrier
    (and at the end of input). With aligned checkpoints the barrier comes after it, so
    every checkpoint holds exactly the state of the records before it; after a failure
    the sources rewind to that checkpoint and the lost in-memory changes are redone. A
    bounded cache of deserialized clean states (oldest first out) saves the reads; a
    restore or rescale starts with an empty cache.

    Expiry: Flink's state TTL on a MapState costs time proportional to the map's size per
    access in thread mode (docs/toolchain-notes.md), so instead each written wallet state
    carries the processing time of its write, and a processing-time timer per shard (at
    aligned times, so Flink keeps one per shard) drops wallets idle for longer than
    `flink.wallet_state_ttl_ms`.
    """

    def __init__(self, cfg: PipelineConfig, source_name: str) -> None:
        self._cfg = cfg
        self._source = source_name

    def open(self, runtime_context: RuntimeContext) -> None:
        cfg = self._cfg
        comps = Components(cfg)
        self._engine = comps.wallet_risk
        self._scorer = comps.scorer
        self._decider: Decider = comps.decider
        self._model_version = comps.model_version
        self._process_mode = cfg.flink.python_execution_mode == "process"
        self._ttl_ms = cfg.flink.wallet_state_ttl_ms
        self._sweep_every_ms = max(self._ttl_ms // 8, 1000)
        self._state = runtime_context.get_map_state(
            MapStateDescriptor("wallet-risk-state", Types.STRING(), Types.PICKLED_BYTE_ARRAY())
        )
        self._cache: OrderedDict[str, dict] = OrderedDict()
        self._dirty: dict[int, dict[str, dict]] = {}  # shard -> wallet -> unwritten state
        self._sweep_at: dict[int, int] = {}  # shard -> its registered sweep timer
        m = cfg.metrics
        self._metrics = PipelineMetrics.from_runtime_context(
            runtime_context, m.group, m.flush_interval_ms, m.enabled
        )
        collect_garbage_rarely()

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        started_ns = time.perf_counter_ns()
        shard, wallets, raws, mirrored_flags, sync = value
        now_ms = time.time_ns() // 1_000_000
        self._metrics.schedule_flush(ctx.timer_service(), now_ms)
        dirty = self._dirty.get(shard)
        if dirty is None:
            dirty = self._dirty[shard] = {}
        if wallets:
            engine, source = self._engine, self._source
            scored = []
            for wallet, enveloped, flag in zip(wallets, raws, mirrored_flags, strict=True):
                header, raw = split_origin(enveloped)
                state = dirty.get(wallet)
                if state is None:
                    state = dirty[wallet] = self._wallet_state(wallet)
                outcome = engine.process(state, raw, flag == "1", now_ms)
                if outcome is None:
                    continue
                if isinstance(outcome, Scored):
                    scored.append(outcome)
                elif isinstance(outcome, Rejection):
                    self._metrics.record("invalid", now_ms, reason=outcome.reason)
                    yield (
                        DLQ_TAG,
                        dlq_record(
                            raw,
                            outcome.reason,
                            outcome.detail,
                            source,
                            now_ms,
                            origin_fields(header),
                        ),
                    )
                elif isinstance(outcome, Duplicate):
                    self._metrics.record("duplicate", now_ms)
                    yield DUPLICATES_TAG, duplicate_record(outcome, now_ms)
            if scored:
                yield from self._decide(scored, now_ms, started_ns, len(wallets))
        if sync and dirty:
            self._write(dirty, now_ms)
            sweep_at = (now_ms // self._sweep_every_ms + 1) * self._sweep_every_ms
            if self._sweep_at.get(shard) != sweep_at:
                self._sweep_at[shard] = sweep_at
                ctx.timer_service().register_processing_time_timer(sweep_at)

    def _wallet_state(self, wallet: str) -> dict:
        cache = self._cache
        state = cache.get(wallet)
        if state is None:
            state = self._state.get(wallet) or new_wallet_state()
            cache[wallet] = state
            if len(cache) > _STATE_CACHE_WALLETS:
                cache.popitem(last=False)
        return state

    def _write(self, dirty: dict[str, dict], now_ms: int) -> None:
        """Write the shard's changed wallet states to Flink state (current key = shard)."""
        for state in dirty.values():
            state[_TOUCHED] = now_ms
        # PyFlink 2.2.1's MapState.put_all takes a dict in thread mode but iterates
        # (key, value) pairs in process mode (a dict there fails: "too many values to unpack").
        self._state.put_all(dirty.items() if self._process_mode else dirty)
        dirty.clear()

    def _decide(self, scored: list[Scored], now_ms: int, started_ns: int, records: int):
        """Score the batch's new transactions in one ONNX call, then decide each."""
        scores = self._scorer.score_batch(np.array([s.features for s in scored], np.float32))
        # processing_us: the batch's time per record (parse to score), as a record's share.
        spent_us = (time.perf_counter_ns() - started_ns) // 1000 // records
        decider, version = self._decider, self._model_version
        for outcome, score in zip(scored, scores.tolist(), strict=True):
            alert = decider.decide(
                outcome.view.event, outcome.hits, score, outcome.features, now_ms
            )
            if alert is not None:
                yield ALERTS_TAG, alert.to_json()
            self._metrics.record(
                "valid",
                now_ms,
                event_time_ms=outcome.view.ts,
                score=score,
                alert=alert,
                latency_us=spent_us,
            )
            yield pack_row(processed_values(outcome, score, alert, version, now_ms, spent_us))

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        """Drop this shard's wallets not written for longer than the state TTL."""
        self._metrics.on_timer(timestamp)
        if timestamp % self._sweep_every_ms:
            return ()  # a metrics flush timer (PipelineMetrics.schedule_flush), no sweep
        cutoff = timestamp - self._ttl_ms
        dirty = self._dirty.get(_shard_of(ctx.get_current_key()), {})
        expired = [
            w for w, st in self._state.items() if st.get(_TOUCHED, 0) < cutoff and w not in dirty
        ]
        for wallet in expired:
            self._state.remove(wallet)
            self._cache.pop(wallet, None)
        if not self._state.is_empty():
            ctx.timer_service().register_processing_time_timer(timestamp + self._sweep_every_ms)
        return ()


def _shard_of(key) -> int:
    """The shard number from the operator's current key (a one-field Row of the shard)."""
    return key if isinstance(key, int) else key[0]


def duplicate_record(dup: Duplicate, now_ms: int) -> str:
    """The JSON line recording one dropped resend."""
    return orjson.dumps(
        {"tx_id": dup.tx_id, "wallet_id": dup.wallet_id, "seen_at": iso_ms(now_ms)}
    ).decode()
