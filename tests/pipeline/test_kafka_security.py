"""[security]: Kafka TLS / SASL properties for the Java and confluent-kafka clients, secrets
only from the environment and never printed; AWS sessions and Redshift TLS arguments."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from pipeline.aws_credentials import aws_session
from pipeline.config import PROJECT_ROOT, ConfigError, load_config
from pipeline.kafka_security import MASK, confluent_config, java_properties, redacted

PASSWORD = 'scram-"pw"\\-Qv19-do-not-log'


def security(**overrides):
    return load_config({f"security.{k}": v for k, v in overrides.items()}, environ={}).security


@pytest.fixture
def password_env(monkeypatch):
    monkeypatch.setenv("FRAUD_KAFKA_SASL_PASSWORD", PASSWORD)


def test_plaintext_adds_no_client_properties():
    sec = security()

    assert java_properties(sec) == {} and confluent_config(sec) == {}


def test_scram_over_tls_maps_to_both_clients(password_env):
    sec = security(
        kafka_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="fraud",
        kafka_ssl_truststore_path="/etc/kafka/ca.pem",
    )

    java = java_properties(sec)
    rdkafka = confluent_config(sec)

    assert java["security.protocol"] == "SASL_SSL"
    assert java["sasl.mechanism"] == "SCRAM-SHA-256"
    assert java["sasl.jaas.config"] == (
        "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule"
        " required "
        'username="fraud" password="scram-\\"pw\\"\\\\-Qv19-do-not-log";'
    )
    assert java["ssl.truststore.location"] == "/etc/kafka/ca.pem"
    assert java["ssl.truststore.type"] == "PEM"
    assert rdkafka == {
        "security.protocol": "sasl_ssl",
        "ssl.ca.location": "/etc/kafka/ca.pem",
        "ssl.endpoint.identification.algorithm": "https",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "fraud",
        "sasl.password": PASSWORD,
    }


def test_redacted_properties_hold_no_secret(password_env):
    sec = security(kafka_protocol="SASL_SSL", kafka_sasl_username="fraud")

    for props in (java_properties(sec), confluent_config(sec)):
        shown = redacted(props)
        assert "-Qv19-" not in repr(shown)
        assert MASK in shown.values()


def test_missing_password_names_the_variable_to_set(monkeypatch):
    monkeypatch.delenv("FRAUD_KAFKA_SASL_PASSWORD", raising=False)
    sec = security(kafka_protocol="SASL_SSL", kafka_sasl_username="fraud")

    with pytest.raises(ConfigError, match="FRAUD_KAFKA_SASL_PASSWORD"):
        java_properties(sec)


def test_msk_iam_uses_the_iam_login_module_and_an_assumed_role():
    arn = "arn:aws:iam::123456789012:role/fraud-msk"
    sec = security(kafka_protocol="SASL_SSL", kafka_sasl_mechanism="AWS_MSK_IAM", aws_role_arn=arn)

    java = java_properties(sec)

    assert java["sasl.mechanism"] == "AWS_MSK_IAM"
    assert java["sasl.jaas.config"] == (
        "software.amazon.msk.auth.iam.IAMLoginModule required "
        f'awsRoleArn="{arn}" awsRoleSessionName="fraud-pipeline";'
    )
    assert java["sasl.client.callback.handler.class"].endswith("IAMClientCallbackHandler")


def test_msk_iam_producer_signs_a_token_from_the_default_credential_chain(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLOCALONLY")  # local-only dummy identity
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local-only-dummy")
    sec = security(kafka_protocol="SASL_SSL", kafka_sasl_mechanism="AWS_MSK_IAM")

    conf = confluent_config(sec)
    token, expiry_s = conf["oauth_cb"]("")

    assert conf["sasl.mechanism"] == "OAUTHBEARER"
    assert len(token) > 100 and expiry_s > 1_700_000_000
    assert "local-only-dummy" not in token  # signed with the secret, never carrying it


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kafka_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "AWS_MSK_IAM"}, "SASL_SSL"),
        ({"kafka_protocol": "SASL_SSL"}, "username"),
        ({"kafka_protocol": "TLS"}, "kafka_protocol"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_impossible_security_settings_fail_at_start_up(overrides, message):
    with pytest.raises(ConfigError, match=message):
        security(**overrides)


def test_jks_truststore_is_java_only():
    sec = security(
        kafka_protocol="SSL", kafka_ssl_truststore_path="/t.jks", kafka_ssl_truststore_type="JKS"
    )

    assert java_properties(sec)["ssl.truststore.type"] == "JKS"
    with pytest.raises(ConfigError, match="PEM"):
        confluent_config(sec)


def test_redshift_connections_use_tls_unless_disabled_or_local():
    from pipeline.warehouse.connect import redshift_ssl_kwargs

    def warehouse(**overrides):
        keys = {f"warehouse.{k}": v for k, v in overrides.items()}
        return load_config(keys, environ={}).warehouse

    remote = "fraud.abc123.eu-west-1.redshift.amazonaws.com"
    assert redshift_ssl_kwargs(warehouse(host=remote)) == {"ssl": True, "sslmode": "verify-full"}
    assert redshift_ssl_kwargs(warehouse(host=remote, redshift_sslmode="verify-ca"))["sslmode"] == (
        "verify-ca"
    )
    assert redshift_ssl_kwargs(warehouse(host=remote, redshift_sslmode="disable")) == {"ssl": False}
    assert redshift_ssl_kwargs(warehouse(host="127.0.0.1")) == {"ssl": False}
    with pytest.raises(ConfigError, match="redshift_sslmode"):
        warehouse(redshift_sslmode="prefer")


def test_aws_session_without_a_role_is_the_default_chain():
    session = aws_session(security(aws_region="eu-west-1"))

    assert session.region_name == "eu-west-1"


def test_config_printout_masks_secret_looking_values():
    env = {
        **os.environ,
        "FRAUD_KAFKA_SASL_PASSWORD": PASSWORD,
        "FRAUD_SECURITY_KAFKA_SASL_USERNAME": "fraud",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "config", "--set", "security.kafka_protocol=SASL_SSL"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )

    assert "-Qv19-" not in proc.stdout + proc.stderr
    assert "FRAUD_KAFKA_SASL_PASSWORD" in proc.stdout  # the variable's name is shown
    from pipeline.config import printable_value

    assert printable_value("warehouse.password", "hunter2") == "********"
    assert printable_value("security.kafka_sasl_password_env", "X") == "X"


@pytest.mark.stack
def test_aws_session_assumes_the_configured_role(local_stack):
    from pipeline import stack

    sec = dataclasses.replace(
        security(),
        aws_role_arn="arn:aws:iam::123456789012:role/fraud-pipeline",
        aws_sts_endpoint=stack.MOTO_ENDPOINT,
    )

    creds = aws_session(sec).get_credentials().get_frozen_credentials()

    assert creds.access_key != os.environ["AWS_ACCESS_KEY_ID"]  # the role's, not the base's
    assert creds.token
