"""Kafka client security from `[security]`: TLS, SASL/SCRAM and AWS MSK IAM.

One mapping, two dialects: `java_properties` for the Flink Kafka source/sink (Java client
property names) and `confluent_config` for confluent-kafka producers (librdkafka names).
Secrets never live in config files: the config names the environment variables that hold
them (`kafka_sasl_password_env`, ...), read here at the moment the properties are built.
`redacted` masks them for anything printed or logged.

MSK IAM: the Java side needs `software.amazon.msk:aws-msk-iam-auth` on the job's classpath
(pom.xml profile `msk-iam`); the Python side signs tokens with
`aws-msk-iam-sasl-signer-python` (extra `msk`). Both take AWS credentials from the default
chain (environment, profile, web identity, instance/task role); `aws_role_arn` makes them
assume that role first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from .config import ConfigError, SecurityConfig

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
MSK_IAM = "AWS_MSK_IAM"
MECHANISMS = (*SCRAM_MECHANISMS, "PLAIN", MSK_IAM)
TRUSTSTORE_TYPES = ("PEM", "JKS", "PKCS12")
MASK = "********"
# Property names whose values are secrets (both dialects), masked by `redacted`.
_SECRET_KEYS = ("password", "jaas", "secret", "token")

# The job's Kafka connector (flink-sql-connector-kafka) relocates kafka-clients under this
# package; a JAAS login module is looked up by class name, so it must be named relocated
# ("No LoginModule found for org.apache.kafka…ScramLoginModule" otherwise; seen against
# the local stack's SASL_SSL listener, tests/stack/test_kafka_sasl_ssl.py).
KAFKA_SHADE_PREFIX = "org.apache.flink.kafka.shaded."
_SCRAM_MODULE = KAFKA_SHADE_PREFIX + "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN_MODULE = KAFKA_SHADE_PREFIX + "org.apache.kafka.common.security.plain.PlainLoginModule"
_IAM_MODULE = "software.amazon.msk.auth.iam.IAMLoginModule"
_IAM_CALLBACK = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"


def check(sec: SecurityConfig) -> None:
    """Reject impossible combinations at start-up (called by the config loader)."""
    if sec.kafka_protocol not in PROTOCOLS:
        raise ConfigError(f"security.kafka_protocol must be one of {PROTOCOLS}")
    if sec.kafka_sasl_mechanism not in MECHANISMS:
        raise ConfigError(f"security.kafka_sasl_mechanism must be one of {MECHANISMS}")
    if sec.kafka_ssl_truststore_type not in TRUSTSTORE_TYPES:
        raise ConfigError(f"security.kafka_ssl_truststore_type must be one of {TRUSTSTORE_TYPES}")
    if sec.kafka_protocol.startswith("SASL"):
        if sec.kafka_sasl_mechanism == MSK_IAM and sec.kafka_protocol != "SASL_SSL":
            raise ConfigError("AWS_MSK_IAM needs security.kafka_protocol = SASL_SSL")
        if sec.kafka_sasl_mechanism != MSK_IAM and not sec.kafka_sasl_username:
            raise ConfigError("SASL/SCRAM needs security.kafka_sasl_username")


def _secret(env_name: str, what: str, required: bool) -> str | None:
    value = os.environ.get(env_name) if env_name else None
    if required and not value:
        raise ConfigError(f"{what}: set the environment variable {env_name or '(none named)'}")
    return value or None


def _jaas_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def java_properties(sec: SecurityConfig) -> dict[str, str]:
    """Kafka Java client properties (source and sink); {} for PLAINTEXT."""
    proto = sec.kafka_protocol
    if proto == "PLAINTEXT":
        return {}
    props = {"security.protocol": proto}
    if proto in ("SSL", "SASL_SSL"):
        if sec.kafka_ssl_truststore_path:
            props["ssl.truststore.location"] = sec.kafka_ssl_truststore_path
            props["ssl.truststore.type"] = sec.kafka_ssl_truststore_type
            password = _secret(sec.kafka_ssl_truststore_password_env, "truststore", False)
            if password and sec.kafka_ssl_truststore_type != "PEM":
                props["ssl.truststore.password"] = password
        if sec.kafka_ssl_keystore_path:  # mutual TLS with a PKCS12 client keystore
            props["ssl.keystore.location"] = sec.kafka_ssl_keystore_path
            props["ssl.keystore.type"] = "PKCS12"
            props["ssl.keystore.password"] = _secret(
                sec.kafka_ssl_keystore_password_env, "keystore", True
            )
        if not sec.kafka_ssl_verify_hostname:
            props["ssl.endpoint.identification.algorithm"] = ""
    if proto.startswith("SASL"):
        mech = sec.kafka_sasl_mechanism
        props["sasl.mechanism"] = mech
        if mech == MSK_IAM:
            options = ""
            if sec.aws_role_arn:
                options = (
                    f" awsRoleArn={_jaas_quote(sec.aws_role_arn)}"
                    f" awsRoleSessionName={_jaas_quote(sec.aws_role_session_name)}"
                )
            props["sasl.jaas.config"] = f"{_IAM_MODULE} required{options};"
            props["sasl.client.callback.handler.class"] = _IAM_CALLBACK
        else:
            module = _PLAIN_MODULE if mech == "PLAIN" else _SCRAM_MODULE
            password = _secret(sec.kafka_sasl_password_env, f"SASL {mech} password", True)
            props["sasl.jaas.config"] = (
                f"{module} required username={_jaas_quote(sec.kafka_sasl_username)} "
                f"password={_jaas_quote(password)};"
            )
    return props


def confluent_config(sec: SecurityConfig) -> dict[str, object]:
    """librdkafka settings for confluent-kafka clients (producers); {} for PLAINTEXT."""
    proto = sec.kafka_protocol
    if proto == "PLAINTEXT":
        return {}
    conf: dict[str, object] = {"security.protocol": proto.lower()}
    if proto in ("SSL", "SASL_SSL"):
        if sec.kafka_ssl_truststore_path:
            if sec.kafka_ssl_truststore_type != "PEM":
                raise ConfigError(
                    "confluent-kafka reads CA certificates as PEM only: set "
                    "security.kafka_ssl_truststore_type = PEM (the Java client reads PEM too)"
                )
            conf["ssl.ca.location"] = sec.kafka_ssl_truststore_path
        if sec.kafka_ssl_keystore_path:
            conf["ssl.keystore.location"] = sec.kafka_ssl_keystore_path
            conf["ssl.keystore.password"] = _secret(
                sec.kafka_ssl_keystore_password_env, "keystore", True
            )
        conf["ssl.endpoint.identification.algorithm"] = (
            "https" if sec.kafka_ssl_verify_hostname else "none"
        )
    if proto.startswith("SASL"):
        mech = sec.kafka_sasl_mechanism
        if mech == MSK_IAM:
            conf["sasl.mechanism"] = "OAUTHBEARER"
            conf["oauth_cb"] = msk_iam_token_provider(sec)
        else:
            conf["sasl.mechanism"] = mech
            conf["sasl.username"] = sec.kafka_sasl_username
            conf["sasl.password"] = _secret(
                sec.kafka_sasl_password_env, f"SASL {mech} password", True
            )
    return conf


def msk_iam_token_provider(sec: SecurityConfig) -> Callable[[str], tuple[str, float]]:
    """confluent-kafka `oauth_cb`: an MSK IAM token signed with the default credential chain
    (or the assumed `aws_role_arn`), as (token, expiry in epoch seconds)."""
    try:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    except ImportError:
        raise ConfigError(
            "AWS_MSK_IAM producers need aws-msk-iam-sasl-signer-python (pip extra `msk`)"
        ) from None

    def token(_config: str) -> tuple[str, float]:
        if sec.aws_role_arn:
            tok, expiry_ms = MSKAuthTokenProvider.generate_auth_token_from_role_arn(
                sec.aws_region, sec.aws_role_arn, sec.aws_role_session_name
            )
        else:
            tok, expiry_ms = MSKAuthTokenProvider.generate_auth_token(sec.aws_region)
        return tok, expiry_ms / 1000

    return token


def redacted(props: Mapping[str, object]) -> dict[str, object]:
    """`props` with every secret value masked: what may be printed or logged."""
    return {
        k: (MASK if any(s in k.lower() for s in _SECRET_KEYS) and v else v)
        for k, v in props.items()
    }
