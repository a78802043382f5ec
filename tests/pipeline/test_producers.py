"""The Kafka / Kinesis producers against the local stack: exactly-once arrival, the Kinesis
partial-failure retry, replay order and pacing, and a fast clear error for a dead broker."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from pipeline import producers, stack
from tests.kafka_topics import unique_topic

pytestmark = [pytest.mark.stack]


def _fresh_topic(partitions: int) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = unique_topic("producer-test")
    admin = AdminClient({"bootstrap.servers": stack.KAFKA_BOOTSTRAP})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[
        topic
    ].result(30)
    return topic


def _consume_all(topic: str, expected: int, timeout_s: float = 60.0) -> list:
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": stack.KAFKA_BOOTSTRAP,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list = []
    deadline = time.monotonic() + timeout_s
    idle_since = None
    try:
        while time.monotonic() < deadline:
            batch = consumer.consume(1000, timeout=1.0)
            msgs = [m for m in batch if m.error() is None]
            got.extend(msgs)
            if msgs:
                idle_since = None
            elif len(got) >= expected:  # wait a little more to catch duplicates
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 2.0:
                    break
    finally:
        consumer.close()
    return got


def test_kafka_synthetic_arrives_exactly_once(local_stack):
    n = 5_000
    topic = _fresh_topic(2)
    sent = [producers.json_event(line) for line in producers.generated_lines(n, 11)]
    sink = producers.KafkaProducerSink(stack.KAFKA_BOOTSTRAP, topic)
    stats = producers.run(producers.synthetic(0, n, 11), sink)
    assert (stats.sent, stats.failed) == (n, 0), sink.errors

    msgs = _consume_all(topic, n)
    # every record (malformed noise included) exactly once; the generator's duplicate noise
    # repeats tx_ids on purpose, so compare multisets of tx_ids and of raw values
    assert len(msgs) == n
    got = [producers.json_event(m.value()) for m in msgs]
    assert sorted(str(e.tx_id) for e in got) == sorted(str(e.tx_id) for e in sent)
    assert sorted(m.value() for m in msgs) == sorted(e.value for e in sent)
    for m, e in zip(msgs, got, strict=True):
        assert (m.key().decode() if m.key() is not None else None) == e.key
    assert {m.partition() for m in msgs} == {0, 1}


def test_kafka_dead_broker_fails_fast_and_clearly():
    t0 = time.monotonic()
    with pytest.raises(producers.ProducerError, match=r"127\.0\.0\.1:1 is not reachable"):
        producers.KafkaProducerSink("127.0.0.1:1", "transactions", connect_timeout_s=3)
    assert time.monotonic() - t0 < 10


def test_kafka_missing_topic_is_a_clear_error(local_stack):
    with pytest.raises(producers.ProducerError, match="does not exist"):
        producers.KafkaProducerSink(stack.KAFKA_BOOTSTRAP, f"no-such-{uuid.uuid4().hex[:6]}")


class _FlakyKinesis:
    """Wraps a boto3 client: the first put_records reports every 3rd record as throttled
    (and really sends only the others), like Kinesis' partial failures."""

    def __init__(self, client) -> None:
        self.client, self.calls, self.fail_marked = client, 0, 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def put_records(self, StreamName, Records):
        self.calls += 1
        if self.calls > 1:
            return self.client.put_records(StreamName=StreamName, Records=Records)
        keep = [i for i in range(len(Records)) if i % 3]
        real = self.client.put_records(StreamName=StreamName, Records=[Records[i] for i in keep])
        results = iter(real["Records"])
        out = []
        for i in range(len(Records)):
            if i % 3:
                out.append(next(results))
            else:
                self.fail_marked += 1
                out.append(
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": "Rate exceeded for shard",
                    }
                )
        return {"FailedRecordCount": self.fail_marked, "Records": out}


def _read_stream(client, stream: str) -> list[dict]:
    records: list[dict] = []
    shards = client.list_shards(StreamName=stream)["Shards"]
    for shard in shards:
        it = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            resp = client.get_records(ShardIterator=it, Limit=10_000)
            records.extend(resp["Records"])
            if not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0:
                break
            it = resp.get("NextShardIterator")
    return records


def test_kinesis_retry_sends_failed_records_once(local_stack):
    import boto3

    n = 1_200  # three batches: 500, 500, 200
    stream = f"producer-test-{uuid.uuid4().hex[:8]}"
    client = boto3.client("kinesis", endpoint_url=stack.MOTO_ENDPOINT, region_name=stack.AWS_REGION)
    client.create_stream(StreamName=stream, ShardCount=2)
    client.get_waiter("stream_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    try:
        flaky = _FlakyKinesis(client)
        sink = producers.KinesisProducerSink(stream, client=flaky, backoff_s=0.01)

        def w(i: int) -> str:
            return f"w{i % 37}"

        events = [
            producers.Event(
                orjson.dumps({"tx_id": f"t{i}", "wallet_id": f"w{i % 37}"}), f"w{i % 37}"
            )
            for i in range(n)
        ]
        stats = producers.run(producers.Source(events, n, "test"), sink)
        assert flaky.fail_marked == 167  # every 3rd of the first 500
        assert (stats.sent, stats.failed, stats.retried) == (n, 0, 167)
        assert flaky.calls == 4  # 3 batches + 1 retry of the failed records only

        records = _read_stream(client, stream)
        tx_ids = sorted(orjson.loads(r["Data"])["tx_id"] for r in records)
        assert tx_ids == sorted(f"t{i}" for i in range(n))  # each exactly once
        for r in records:
            assert r["PartitionKey"] == orjson.loads(r["Data"])["wallet_id"]
    finally:
        client.delete_stream(StreamName=stream)


def test_kinesis_unreachable_endpoint_is_a_clear_error():
    stack.local_aws_env()
    with pytest.raises(producers.ProducerError, match="not reachable"):
        producers.KinesisProducerSink("transactions", "http://127.0.0.1:1", "us-east-1")


def test_replay_keeps_file_order_and_paces_by_event_time(tmp_path):
    # 61 events spanning 60 s of event time, plus a late one and an unparseable row
    start = 1_772_409_600_000  # 2026-03-02T00:00:00Z
    rows = ["tx_id,event_time,tx_type,wallet_id,amount"]
    for i in range(61):
        t = start + i * 1000
        text = str(t) if i % 5 == 0 else producers_iso(t)
        rows.append(f"tx_{i:03d},{text},trade,w_{i % 4},1.5")
        if i == 30:
            rows.append(f"tx_late,{start},trade,w_9,2")  # out of order: no rewind
            rows.append("broken,row")  # wrong field count: sent as-is
    path = tmp_path / "replay.csv"
    path.write_text("\n".join(rows) + "\n")

    sent: list[producers.Event] = []
    stamps: list[float] = []

    class Sink:
        stats = producers.ProducerStats()

        def send(self, event):
            sent.append(event)
            stamps.append(time.monotonic())

        def close(self):
            pass

    t0 = time.monotonic()
    producers.run(producers.replay(path, speed=60), Sink())
    elapsed = time.monotonic() - t0
    assert 0.5 <= elapsed <= 1.5  # 60 s of history at 60x is ~1 s
    # at the halfway event (30 s of event time -> 0.5 s) the clock is roughly halfway
    half = stamps[31] - stamps[0]
    assert 0.25 <= half <= 0.75

    assert sent[32].value == b"broken,row" and sent[32].key is None
    ids = [orjson.loads(e.value)["tx_id"] for e in sent if e.value != b"broken,row"]
    expected = [f"tx_{i:03d}" for i in range(31)] + ["tx_late"]
    expected += [f"tx_{i:03d}" for i in range(31, 61)]
    assert ids == expected
    first = orjson.loads(sent[0].value)
    assert first == {
        "tx_id": "tx_000",
        "event_time": start,
        "tx_type": "trade",
        "wallet_id": "w_0",
        "amount": 1.5,
    }
    assert sent[0].key == "w_0"


def producers_iso(t_ms: int) -> str:
    from datasets.records import iso_ms

    return iso_ms(t_ms)


def test_csv_replay_matches_the_generators_json(tmp_path):
    import io

    from datasets.generator import Config, generate

    as_csv, as_json = io.StringIO(), io.StringIO()
    generate(Config(events=2_000, seed=5, fmt="csv", noise=False), as_csv)
    generate(Config(events=2_000, seed=5, fmt="jsonl", noise=False), as_json)
    path = tmp_path / "tx.csv"
    path.write_text(as_csv.getvalue())
    got = [orjson.loads(e.value) for e in producers.replay(path, speed=0)]
    assert got == [orjson.loads(line) for line in as_json.getvalue().splitlines()]
