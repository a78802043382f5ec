"""Integration tests against the local stack of real servers (`python -m pipeline.stack`).

The module brings up a stack of its own (own folder and ports, tests/private_stack.py) from
nothing, as on a fresh machine; the last test takes it down and checks that no stack
process is left behind. The shared stack other tests use is never touched.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from pipeline import stack
from tests.private_stack import private_stack

pytestmark = pytest.mark.stack

N_MESSAGES = 500


@pytest.fixture(scope="module")
def local_stack():
    with private_stack("stack-test", start=False):
        t0 = time.monotonic()
        try:
            states = stack.up(verbose=False)
        except stack.StackError as exc:
            pytest.fail(f"stack did not come up: {exc}")
        print(f"stack up ({states}) in {time.monotonic() - t0:.1f}s")
        assert stack.up(verbose=False) == dict.fromkeys(states, "reused")  # idempotent
        yield states


@pytest.fixture()
def run_id() -> str:
    return uuid.uuid4().hex


def test_services_report_up(local_stack):
    assert set(local_stack) == {"kafka", "moto", "postgres"}
    assert all(svc.healthy() for svc in stack.SERVICES)


def test_kafka_produce_consume_exactly(local_stack, run_id):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": stack.KAFKA_BOOTSTRAP}).list_topics(timeout=10)
    for name, parts in stack.KAFKA_TOPICS.items():
        assert name in topics.topics
        assert len(topics.topics[name].partitions) == parts

    producer = Producer(
        {
            "bootstrap.servers": stack.KAFKA_BOOTSTRAP,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
        }
    )
    delivered: list[tuple[int, int]] = []
    errors: list[str] = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered.append((msg.partition(), msg.offset()))

    sent = {}
    for i in range(N_MESSAGES):
        payload = {"run": run_id, "seq": i, "wallet_id": f"w{i % 37}"}
        sent[i] = payload
        producer.produce(
            "transactions",
            key=payload["wallet_id"].encode(),
            value=json.dumps(payload).encode(),
            on_delivery=on_delivery,
        )
        producer.poll(0)
    assert producer.flush(30) == 0
    assert not errors
    assert len(delivered) == N_MESSAGES

    # read back exactly the offsets the broker acknowledged
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for part, off in delivered:
        first[part] = min(first.get(part, off), off)
        last[part] = max(last.get(part, off), off)
    consumer = Consumer(
        {
            "bootstrap.servers": stack.KAFKA_BOOTSTRAP,
            "group.id": f"test-{run_id}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition("transactions", p, o) for p, o in first.items()])
    received: list[dict] = []
    done: set[int] = set()
    deadline = time.monotonic() + 30
    while len(done) < len(first) and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        if msg.offset() > last[msg.partition()]:
            done.add(msg.partition())
            continue
        received.append(json.loads(msg.value()))
        if msg.offset() == last[msg.partition()]:
            done.add(msg.partition())
    consumer.close()

    ours = [r for r in received if r["run"] == run_id]
    assert len(ours) == N_MESSAGES  # nothing lost, nothing duplicated
    assert sorted(r["seq"] for r in ours) == list(range(N_MESSAGES))
    assert all(sent[r["seq"]] == r for r in ours)
    by_wallet: dict[str, list[int]] = {}
    for r in ours:  # per-key order is kept within a partition
        by_wallet.setdefault(r["wallet_id"], []).append(r["seq"])
    assert all(seqs == sorted(seqs) for seqs in by_wallet.values())


def test_moto_s3_put_get(local_stack, run_id):
    s3 = stack.aws_client("s3")
    key = f"tests/{run_id}.json"
    body = json.dumps({"run": run_id}).encode()
    s3.put_object(Bucket=stack.S3_BUCKET, Key=key, Body=body)
    assert s3.get_object(Bucket=stack.S3_BUCKET, Key=key)["Body"].read() == body
    s3.delete_object(Bucket=stack.S3_BUCKET, Key=key)


def test_moto_kinesis_put_get_records(local_stack, run_id):
    kinesis = stack.aws_client("kinesis")
    records = [
        {"Data": json.dumps({"run": run_id, "seq": i}).encode(), "PartitionKey": f"w{i}"}
        for i in range(100)
    ]
    res = kinesis.put_records(StreamName=stack.KINESIS_STREAM, Records=records)
    assert res["FailedRecordCount"] == 0
    got = []
    for shard in kinesis.list_shards(StreamName=stack.KINESIS_STREAM)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=stack.KINESIS_STREAM,
            ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        while it:
            page = kinesis.get_records(ShardIterator=it, Limit=1000)
            # The stream is shared (demo, producers, bad-input tests): keep this run's records.
            got.extend(
                json.loads(r["Data"]) for r in page["Records"] if run_id.encode() in r["Data"]
            )
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
    ours = sorted(r["seq"] for r in got if r["run"] == run_id)
    assert ours == list(range(100))


def test_postgres_sql_round_trip(local_stack, run_id):
    import psycopg

    with psycopg.connect(stack.pg_dsn(), connect_timeout=5) as conn:
        assert conn.execute("SHOW server_version").fetchone()[0].startswith("15")
        conn.execute("CREATE TEMP TABLE t (run text, seq int, amount numeric(18,8))")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO t VALUES (%s, %s, %s)", [(run_id, i, i * 0.5) for i in range(10)]
            )
        row = conn.execute("SELECT count(*), sum(amount) FROM t WHERE run = %s", (run_id,))
        assert row.fetchone() == (10, pytest.approx(22.5))
    with pytest.raises(psycopg.OperationalError):  # md5 password auth is enforced on TCP
        psycopg.connect(stack.pg_dsn() + "-wrong", connect_timeout=5)


def test_down_leaves_no_process(local_stack):
    pids = {name: stack._read_pid(name) for name in ("kafka", "moto", "postgres")}
    assert all(pids.values())
    left = stack.down(verbose=False)
    assert left == []
    assert stack.stack_processes() == {}
    assert not any(stack._alive(pid) for pid in pids.values())
    ports = (stack.KAFKA_PORT, stack.KAFKA_CONTROLLER_PORT, stack.MOTO_PORT, stack.PG_PORT)
    assert not any(stack._port_open(p) for p in ports)
