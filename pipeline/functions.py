"""The thin Flink functions around the plain-Python operators.

They only move state in and out and route outcomes to outputs; the logic lives in
`operators/` and `models/`. Each function builds its components in `open()` from the
(picklable) config, so nothing heavy is shipped with the job graph.
"""

from __future__ import annotations

import base64
import gc
import time
from collections import OrderedDict

import orjson
from pyflink.common import Duration, Time, Types
from pyflink.datastream import OutputTag
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import (
    StateTtlConfig,
    ValueStateDescriptor,
)

from operators.decide import Decider, iso_ms
from operators.validate import Rejection
from operators.wallet_risk import Duplicate, Scored, new_wallet_state

from .components import Components
from .config import PipelineConfig
from .metrics import PipelineMetrics
from .schemas import processed_row

DLQ_TAG = OutputTag("dlq", Types.STRING())
DUPLICATES_TAG = OutputTag("duplicates", Types.STRING())
ALERTS_TAG = OutputTag("alerts", Types.STRING())

# Wallet states kept deserialized in the operator; Flink state stays authoritative.
_STATE_CACHE_WALLETS = 200_000


def _ttl(ms: int) -> StateTtlConfig:
    return (
        StateTtlConfig.new_builder(Time.milliseconds(ms))
        .set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)
        .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
        # PyFlink 2.2.1 builds its default RocksDB cleanup strategy (Duration.of_days(30))
        # through the py4j gateway, which the embedded Python of a standalone TaskManager
        # lacks: the job fails in open() with FileNotFoundError trying to launch one (a
        # minicluster has the driver's gateway). So the background defaults are switched
        # off and set again explicitly, with a gateway-free placeholder for the duration
        # (never read when the config goes to Java). Same Java TTL config as the defaults.
        .disable_cleanup_in_background()
        .cleanup_incrementally(5, False)
        .cleanup_in_rocksdb_compact_filter(1000, Duration(None))
        .build()
    )


def dlq_record(raw: str, reason: str, detail: str, source: str, now_ms: int) -> str:
    """A DLQ record (`contracts/dlq-record.v1.schema.json`) as a JSON line."""
    original = base64.b64encode(raw.encode("utf-8", "surrogatepass")).decode("ascii")
    return orjson.dumps(
        {
            "original": original,
            "reason": reason,
            "detail": detail,
            "source": source,
            "received_at": iso_ms(now_ms),
        }
    ).decode()


class WalletRiskFunction(KeyedProcessFunction):
    """Keyed by wallet: validate → dedupe → enrich → detectors → features → ONNX score →
    decision.

    Emits the processed-zone row of every valid new transaction; alerts, invalid records
    (DLQ) and exact resends (duplicates) go to side outputs as JSON lines.

    State: `wallet-risk-state`, one value per wallet holding its recent tx ids (dedupe),
    detector and feature state, with TTL `flink.wallet_state_ttl_ms` for idle wallets.
    One value keeps it to one state write per event. A bounded write-through cache of
    deserialized wallet states (oldest first out) saves the per-event read; every change
    is still written to Flink state before the next record, so checkpoints see exactly
    what the operator saw. A restore or rescale starts with an empty cache. (A wallet
    still in the cache outlives its state TTL until it is evicted.)
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
        state_desc = ValueStateDescriptor("wallet-risk-state", Types.PICKLED_BYTE_ARRAY())
        state_desc.enable_time_to_live(_ttl(cfg.flink.wallet_state_ttl_ms))
        self._state = runtime_context.get_state(state_desc)
        self._cache: OrderedDict[str, dict] = OrderedDict()
        m = cfg.metrics
        self._metrics = PipelineMetrics.from_runtime_context(
            runtime_context, m.group, m.flush_interval_ms
        )
        # The cached wallet states are many long-lived containers; default GC thresholds
        # rescan them every few thousand allocations (measured: ~12% of the job's time).
        # Per-record objects form no cycles, so collect rarely and never scan start-up data.
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        # The only timers are the metrics' flush timers (PipelineMetrics.schedule_flush).
        self._metrics.on_timer(timestamp)

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        started_ns = time.perf_counter_ns()
        key, raw, mirrored = value[0], value[1], value[2]
        now_ms = time.time_ns() // 1_000_000
        self._metrics.schedule_flush(ctx.timer_service(), now_ms)
        cache = self._cache
        state = cache.get(key)
        if state is None:
            state = self._state.value() or new_wallet_state()
            cache[key] = state
            if len(cache) > _STATE_CACHE_WALLETS:
                cache.popitem(last=False)
        outcome = self._engine.process(state, raw, mirrored, now_ms)
        if outcome is None:
            self._metrics.record("mirrored", now_ms)
            if mirrored:
                self._state.update(state)
            return
        if isinstance(outcome, Scored):
            self._state.update(state)
            score = self._scorer.score_one(outcome.features)
            alert = self._decider.decide(
                outcome.view.event, outcome.hits, score, outcome.features, now_ms
            )
            if alert is not None:
                yield ALERTS_TAG, alert.to_json()
            spent_us = (time.perf_counter_ns() - started_ns) // 1000
            self._metrics.record(
                "valid",
                now_ms,
                event_time_ms=outcome.view.ts,
                score=score,
                alert=alert,
                latency_us=spent_us,
            )
            yield processed_row(outcome, score, alert, self._model_version, now_ms, spent_us)
        elif isinstance(outcome, Rejection):
            self._metrics.record("invalid", now_ms, reason=outcome.reason)
            yield DLQ_TAG, dlq_record(raw, outcome.reason, outcome.detail, self._source, now_ms)
        elif isinstance(outcome, Duplicate):
            self._metrics.record("duplicate", now_ms)
            yield (
                DUPLICATES_TAG,
                orjson.dumps(
                    {
                        "tx_id": outcome.tx_id,
                        "wallet_id": outcome.wallet_id,
                        "seen_at": iso_ms(now_ms),
                    }
                ).decode(),
            )
