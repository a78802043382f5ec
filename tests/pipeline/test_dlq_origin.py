"""A bad record's DLQ entry names its exact place in the source: Kafka topic/partition/offset
(the real broker of the local stack) and Kinesis stream/shard/sequence number (moto), as the
broker reported them when the record was written."""

from __future__ import annotations

import json
import uuid

import pytest

from pipeline import stack
from pipeline.summary import read_json_lines, read_processed
from tests.jobs import run_job
from tests.kafka_topics import unique_topic
from tests.pipeline.test_job_kafka_kinesis import fresh_stream as fresh_stream  # the fixture
from tests.pipeline.test_job_kafka_kinesis import generated, put_kinesis

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]


def _produce_with_offsets(bootstrap: str, topic: str, values: list[bytes]) -> dict[bytes, tuple]:
    """Write `values` to a new topic of two partitions; {value: (partition, offset)} as the
    broker acknowledged them."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    placed: dict[bytes, tuple] = {}

    def delivered(err, msg):
        assert err is None, err
        placed[msg.value()] = (msg.partition(), msg.offset())

    for i, value in enumerate(values):
        producer.produce(topic, value=value, key=f"k{i % 5}".encode(), on_delivery=delivered)
    assert producer.flush(30) == 0
    return placed


def test_dlq_records_name_the_kafka_offset_and_the_kinesis_sequence_number(
    local_stack, fresh_stream, tmp_path
):
    lines, _, wallets = generated(tmp_path, 300, seed=41)
    lines = [line for line in lines if '"tx_id"' in line][:200]  # a valid-looking base
    tag = uuid.uuid4().hex[:6]
    kafka_bad = [f"not json {tag} k{i}".encode() for i in range(3)] + [
        json.dumps({"tx_id": f"bad-{tag}-k", "wallet_id": "w_000001"}).encode()
    ]
    kinesis_bad = [f"not json {tag} s{i}".encode() for i in range(3)] + [b"\xff\xfe" + tag.encode()]

    topic = unique_topic("transactions-origin")
    kafka_values = [line.encode() for line in lines[:100]]
    for i, bad in enumerate(kafka_bad):  # spread over the topic, not all at its end
        kafka_values.insert(10 + 25 * i, bad)
    placed = _produce_with_offsets(local_stack, topic, kafka_values)

    stream = fresh_stream(shards=2)
    put_kinesis(stream, lines[100:150])
    kinesis = stack.aws_client("kinesis")
    sequence = {}
    for i, bad in enumerate(kinesis_bad):
        r = kinesis.put_record(StreamName=stream, Data=bad, PartitionKey=f"bad-{i}")
        sequence[bad] = (r["ShardId"], r["SequenceNumber"])
    put_kinesis(stream, lines[150:200])

    paths = run_job(
        tmp_path,
        tmp_path / "unused",
        1,
        **{
            "source.kind": "kafka+kinesis",
            "source.format": "jsonl",
            "source.kafka_bootstrap_servers": local_stack,
            "source.kafka_topic": topic,
            "source.kafka_bounded": "true",
            "source.kinesis_stream": stream,
            "source.kinesis_endpoint": stack.MOTO_ENDPOINT,
            "source.kinesis_bounded": "true",
            "reference.wallets_file": str(wallets),
        },
    )

    import base64

    dlq = {base64.b64decode(r["original"]): r for r in read_json_lines(paths.dlq)}
    for bad in kafka_bad:
        partition, offset = placed[bad]
        assert dlq[bad]["origin"] == {
            "kind": "kafka",
            "topic": topic,
            "partition": partition,
            "offset": offset,
        }, dlq[bad]
    for bad in kinesis_bad:
        shard_id, sequence_number = sequence[bad]
        got = dlq[bad.decode("utf-8", "replace").encode("utf-8")]  # U+FFFD as decoded
        assert got["origin"] == {
            "kind": "kinesis",
            "stream": stream,
            "shard_id": shard_id,
            "sequence_number": sequence_number,
        }, got
    # every DLQ record of the run names its origin, and every record is accounted for once
    assert all("origin" in r for r in dlq.values())
    processed = read_processed(paths.processed, ["tx_id"]).column("tx_id").to_pylist()
    duplicates = read_json_lines(paths.duplicates)
    dlq_total = len(read_json_lines(paths.dlq))
    assert len(processed) + dlq_total + len(duplicates) == len(lines) + 8
    assert not any(tx.startswith("\x01") for tx in processed)
