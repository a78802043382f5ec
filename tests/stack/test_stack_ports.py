"""A second local stack on its own ports: config defaults naming the default stack's
endpoints follow FRAUD_STACK_*_PORT; explicit keys still win (no servers needed)."""

from __future__ import annotations

from pipeline.config import load_config

PORTS = {
    "FRAUD_STACK_KAFKA_PORT": "19092",
    "FRAUD_STACK_MOTO_PORT": "15000",
    "FRAUD_STACK_PG_PORT": "15433",
}


def test_config_endpoints_follow_the_stack_ports_from_the_environment():
    cfg = load_config(environ=PORTS)

    assert cfg.source.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert cfg.sink.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert cfg.source.kinesis_endpoint == "http://127.0.0.1:15000"
    assert cfg.sink.s3_endpoint == "http://127.0.0.1:15000"
    assert cfg.warehouse.s3_endpoint_url == "http://127.0.0.1:15000"
    assert cfg.alarms.aws_endpoint_url == "http://127.0.0.1:15000"
    assert cfg.warehouse.port == 15433


def test_explicit_endpoint_keys_win_over_the_stack_ports():
    env = {**PORTS, "FRAUD_SOURCE_KAFKA_BOOTSTRAP_SERVERS": "broker:9094"}
    cfg = load_config({"warehouse.port": 5439}, environ=env)

    assert cfg.source.kafka_bootstrap_servers == "broker:9094"
    assert cfg.warehouse.port == 5439
    assert cfg.sink.kafka_bootstrap_servers == "127.0.0.1:19092"


def test_without_stack_ports_the_defaults_are_the_shared_stack():
    cfg = load_config(environ={})

    assert cfg.source.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert cfg.sink.s3_endpoint == "http://127.0.0.1:5000"
    assert cfg.warehouse.port == 5433
