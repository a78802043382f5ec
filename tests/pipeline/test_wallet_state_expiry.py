"""Idle wallets' state expires (`flink.wallet_state_ttl_ms`, processing time), so state per
wallet stays bounded: the keyed function's per-shard sweep drops a wallet not written for
longer than the TTL. Seen from outside: a resend of a transaction is a duplicate while its
wallet's state lives, and a new transaction once that state has been swept away."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from pipeline.sinks import OutputPaths
from tests.jobs import kill_job, start_job
from tests.kafka_topics import unique_topic
from tests.pipeline.test_job_kafka import produce
from tests.pipeline.test_job_kafka_kinesis import committed_records, produce_more, wait_for

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]

TTL_MS = 3_000  # the sweep runs every max(TTL / 8, 1 s)


def transaction(tx_id: str, wallet: str) -> str:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps(
        {
            "tx_id": tx_id,
            "event_time": now,
            "tx_type": "trade",
            "wallet_id": wallet,
            "asset": "BTC",
            "amount": 0.01,
            "venue": "coinex-eu",
        }
    )


def test_an_idle_wallets_state_is_swept_after_its_ttl(local_stack, tmp_path):
    topic = unique_topic("transactions-ttl")
    first = transaction("tx_ttl_a", "w_ttl_1")
    # Sent twice at once: the second is a duplicate (the wallet's state remembers it).
    produce(local_stack, topic, [first, first])
    overrides = {
        "source.kind": "kafka",
        "source.format": "jsonl",
        "source.kafka_bootstrap_servers": local_stack,
        "source.kafka_topic": topic,
        "flink.checkpoint_interval_ms": "1000",
        "flink.wallet_state_ttl_ms": str(TTL_MS),
        "rules.enabled": "false",
    }
    paths = OutputPaths(tmp_path / "lake")
    job = start_job(tmp_path, 1, **overrides)
    try:
        # (the processed zone publishes after its compaction, a little after the JSON lines)
        first_two = (["tx_ttl_a"], 0, 1)
        wait_for("the first two records", lambda: committed_records(paths) == first_two, 300, job)
        # Idle for well over the TTL plus a sweep interval: the state is swept away.
        time.sleep(TTL_MS / 1000 + 4)
        produce_more(local_stack, topic, [first])
        wait_for("the resend as new", lambda: len(committed_records(paths)[0]) == 2, 60, job)
        time.sleep(2)  # two more checkpoints: nothing else arrives
    finally:
        kill_job(job)
    processed, dlq, duplicates = committed_records(paths)
    assert processed == ["tx_ttl_a", "tx_ttl_a"]
    assert (dlq, duplicates) == (0, 1)
