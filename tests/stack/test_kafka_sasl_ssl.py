"""Kafka over TLS with SASL/SCRAM-SHA-512, against the local broker's SASL_SSL listener
(`pipeline.stack`: a self-signed certificate for 127.0.0.1, user `fraud-client`): the
project's `[security]` settings reach both clients (confluent-kafka producer, the job's
Java Kafka source), the broker's certificate and host name are verified, a wrong password
is refused, and the password appears in no log or output."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.kafka_security import confluent_config
from pipeline.summary import read_processed
from tests.jobs import run_job
from tests.kafka_topics import unique_topic

pytestmark = [pytest.mark.stack, pytest.mark.minicluster]

PASSWORD_ENV = "FRAUD_KAFKA_SASL_PASSWORD"


def security_overrides() -> dict[str, str]:
    from pipeline import stack

    return {
        "security.kafka_protocol": "SASL_SSL",
        "security.kafka_sasl_mechanism": "SCRAM-SHA-512",
        "security.kafka_sasl_username": stack.KAFKA_SCRAM_USER,
        "security.kafka_sasl_password_env": PASSWORD_ENV,
        "security.kafka_ssl_truststore_path": str(stack.kafka_client_tls().ca_pem),
        "security.kafka_ssl_truststore_type": "PEM",
        "security.kafka_ssl_verify_hostname": "true",
    }


def client_config(overrides: dict[str, str]) -> dict:
    from pipeline import stack

    cfg = load_config(overrides)
    return {"bootstrap.servers": stack.KAFKA_SASL_BOOTSTRAP, **confluent_config(cfg.security)}


def test_a_wrong_password_is_refused(local_stack, monkeypatch):
    import time

    from confluent_kafka import KafkaError, Producer

    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    errors: list[KafkaError] = []
    producer = Producer({**client_config(security_overrides()), "error_cb": errors.append})
    deadline = time.monotonic() + 30
    while not errors and time.monotonic() < deadline:
        producer.poll(0.5)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def test_the_job_reads_a_topic_over_sasl_ssl(local_stack, tmp_path, monkeypatch):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from datasets.generator import Config, generate_files
    from pipeline import stack

    monkeypatch.setenv(PASSWORD_ENV, stack.KAFKA_SCRAM_PASSWORD)
    security = security_overrides()
    conf = client_config(security)
    source, labels, wallets = tmp_path / "tx.jsonl", tmp_path / "labels.csv", tmp_path / "w.csv"
    generate_files(Config(events=500, seed=5, fmt="jsonl", noise=False), source, labels, wallets)
    lines = [line.rstrip("\n") for line in source.read_text().splitlines() if line.strip()]
    topic = unique_topic("transactions-sasl")
    admin = AdminClient({**conf, "log_level": 3})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    producer = Producer({**conf, "enable.idempotence": True, "acks": "all"})
    for line in lines:
        producer.produce(topic, value=line.encode())
    assert producer.flush(30) == 0

    paths = run_job(
        tmp_path,
        source,
        1,
        **security,
        **{
            "source.kind": "kafka",
            "source.format": "jsonl",
            "source.kafka_bootstrap_servers": stack.KAFKA_SASL_BOOTSTRAP,
            "source.kafka_topic": topic,
            "source.kafka_bounded": "true",
            "reference.wallets_file": str(wallets),
            "rules.enabled": "false",
        },
    )
    table = read_processed(paths.processed, ["tx_id"])
    processed = table.column("tx_id").to_pylist() if table is not None else []
    assert len(processed) == len(lines) == len(set(processed))

    secret = stack.KAFKA_SCRAM_PASSWORD.encode()
    leaks = [p for p in Path(tmp_path).rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert not leaks, f"the SASL password was written to {leaks}"
