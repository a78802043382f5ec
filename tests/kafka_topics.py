"""Kafka topics for tests: name and create one, read one back as a read_committed consumer
sees it, and delete the session's topics from the shared broker when the session ends
(tests/conftest.py); without that, every run left dozens of topics behind."""

from __future__ import annotations

import time
import uuid

_NAMED: set[str] = set()  # topics this test process named


def unique_topic(prefix: str) -> str:
    """A fresh topic name, `<prefix>-<8 hex digits>`, deleted at the end of the session."""
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _NAMED.add(topic)
    return topic


def delete_named_topics(bootstrap: str, timeout_s: float = 30.0) -> list[str]:
    """Delete the topics named by `unique_topic` / created by `create_topic` that exist on
    the broker at `bootstrap`; returns the deleted ones. Never raises (a broker that is
    down has nothing to clean)."""
    from confluent_kafka.admin import AdminClient

    if not _NAMED:
        return []
    try:
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        existing = set(admin.list_topics(timeout=5).topics)
        doomed = sorted(_NAMED & existing)
        if doomed:
            for fut in admin.delete_topics(doomed, operation_timeout=timeout_s).values():
                fut.result(timeout_s)
    except Exception:
        return []
    _NAMED.difference_update(doomed)
    return doomed


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    _NAMED.add(topic)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    fut[topic].result(30)


def read_committed(
    bootstrap: str, topic: str, settle_s: float = 3.0, timeout_s: float = 120.0
) -> list[tuple[bytes | None, bytes]]:
    """Every record of `topic` a consumer with isolation.level=read_committed sees, as
    (key, value), read from the beginning until the committed end offsets (the last stable
    offsets) are reached and nothing new arrives for `settle_s`."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-committed-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=30).topics[topic]
        consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
        records: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        at_eof: set[int] = set()
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                settled = time.monotonic() - quiet_since > settle_s
                if settled and len(at_eof) == len(meta.partitions):
                    break
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_eof.add(msg.partition())
                    continue
                raise RuntimeError(f"reading {topic}: {msg.error()}")
            at_eof.discard(msg.partition())
            quiet_since = time.monotonic()
            records.append((msg.key(), msg.value()))
        else:
            raise TimeoutError(f"{topic} not read to its end in {timeout_s:.0f}s")
        return records
    finally:
        consumer.close()
