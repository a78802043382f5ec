"""Helpers of the control-topic tests: topics, crafted events, waiting for committed output."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from operators.decide import iso_ms
from tests.factories import RAW_EVENT_MS, json_record
from tests.kafka_topics import unique_topic

SECOND = 1_000
BLOCKLISTED = "0xee446d79cda5075d2a4a9ae510dbf2b0709ee77c"  # datasets/reference/blocklist.csv


def new_topic(bootstrap: str, prefix: str) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = unique_topic(prefix)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    return topic


def send(bootstrap: str, topic: str, lines: list[str]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for line in lines:
        producer.produce(topic, value=line.encode())
    assert producer.flush(30) == 0


def burst(wallet: str, count: int, start_s: int = 0, counterparty: str | None = None) -> list[str]:
    """`count` small withdrawals of `wallet`, 10 s apart (event time), ids `<wallet>-<n>`."""
    return [
        json_record(
            tx_id=f"{wallet}-{start_s // 10 + n}",
            wallet_id=wallet,
            event_time=iso_ms(RAW_EVENT_MS + (start_s + 10 * n) * SECOND),
            amount=0.01,
            **({"counterparty_wallet": counterparty} if counterparty else {}),
        )
        for n in range(count)
    ]


def tx_ids(lines: list[str]) -> list[str]:
    return [json.loads(line)["tx_id"] for line in lines]


def wait_for(what: str, probe: Callable[[], object], timeout_s: float, log: Path | None = None):
    """Poll `probe` until it returns something truthy; fail with `what` (and the job log's tail)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(1)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tail}")
