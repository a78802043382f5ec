"""Shared fixtures."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def local_stack() -> str:
    """The local stack of real servers, up for the module; yields the Kafka bootstrap address.

    Reuses a running stack and leaves it running; a stack it started is stopped at the end.
    The topics the module's tests named (tests/kafka_topics.py) are deleted at the end.
    """
    from pipeline import stack

    was_up = all(stack.status().values())
    try:
        stack.up(verbose=False)
    except stack.StackError as exc:
        pytest.fail(f"stack did not come up: {exc}")
    stack.local_aws_env()
    yield stack.KAFKA_BOOTSTRAP
    from tests.kafka_topics import delete_named_topics

    delete_named_topics(stack.KAFKA_BOOTSTRAP)  # the module's topics, done with
    if not was_up:
        stack.down(verbose=False)


def pytest_sessionfinish(session, exitstatus):
    """Delete the Kafka topics the tests named from the shared broker (tests/kafka_topics.py)."""
    from pipeline import stack
    from tests.kafka_topics import delete_named_topics

    delete_named_topics(stack.KAFKA_BOOTSTRAP)


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef, request):
    """A PyFlink job run inside the pytest process in loopback mode (process-mode Python
    UDFs) sets PYFLINK_GATEWAY_DISABLED in this process; every job started after it, in a
    subprocess that inherits the environment, would then refuse to start its JVM. Cleared
    before every fixture (module-scoped ones start jobs too) and every test."""
    os.environ.pop("PYFLINK_GATEWAY_DISABLED", None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    os.environ.pop("PYFLINK_GATEWAY_DISABLED", None)
