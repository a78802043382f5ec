"""Shared fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def local_stack() -> str:
    """The local stack of real servers, up for the module; yields the Kafka bootstrap address.

    Reuses a running stack and leaves it running; a stack it started is stopped at the end.
    """
    from pipeline import stack

    was_up = all(stack.status().values())
    try:
        stack.up(verbose=False)
    except stack.StackError as exc:
        pytest.fail(f"stack did not come up: {exc}")
    stack.local_aws_env()
    yield stack.KAFKA_BOOTSTRAP
    if not was_up:
        stack.down(verbose=False)


@pytest.fixture(autouse=True)
def _pyflink_gateway_allowed(monkeypatch):
    """A PyFlink job run inside the pytest process in loopback mode (process-mode Python
    UDFs) sets PYFLINK_GATEWAY_DISABLED in this process; every job started after it, in a
    subprocess that inherits the environment, would then refuse to start its JVM."""
    monkeypatch.delenv("PYFLINK_GATEWAY_DISABLED", raising=False)
