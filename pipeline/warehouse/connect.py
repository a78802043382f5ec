"""Connections to the warehouse and the retry policy for a warehouse that is down.

kind = postgres → psycopg 3 (the local stand-in; COPY FROM STDIN). kind = redshift →
redshift-connector (COPY FROM S3). The password is read from the environment variable the
config names (`warehouse.password_env`), never from a file.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pipeline.config import WarehouseConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class WarehouseUnavailable(RuntimeError):
    """The warehouse (or an S3 lake) could not be reached within the configured retries."""


def password(cfg: WarehouseConfig) -> str:
    """The password from `$<warehouse.password_env>`; the local stack's own otherwise."""
    value = os.environ.get(cfg.password_env)
    if value is not None:
        return value
    if cfg.host in LOCAL_HOSTS:
        from pipeline import stack  # local-only default of the throw-away test cluster

        return stack.PG_PASSWORD
    raise WarehouseUnavailable(
        f"no warehouse password: set the environment variable {cfg.password_env}"
    )


def connect_postgres(cfg: WarehouseConfig, host: str | None = None, port: int | None = None):
    """A psycopg connection (autocommit off) in UTC with the warehouse schema on its path."""
    import psycopg

    conn = psycopg.connect(
        host=host or cfg.host,
        port=port or cfg.port,
        dbname=cfg.database,
        user=cfg.user,
        password=password(cfg),
        connect_timeout=cfg.connect_timeout_s,
        options=f"-c TimeZone=UTC -c search_path={cfg.schema},public",
    )
    return conn


def connect_redshift(cfg: WarehouseConfig, host: str | None = None, port: int | None = None):
    """A redshift-connector connection (autocommit off) with the warehouse schema on its path."""
    import redshift_connector

    conn = redshift_connector.connect(
        host=host or cfg.host,
        port=port or cfg.port,
        database=cfg.database,
        user=cfg.user,
        password=password(cfg),
        timeout=cfg.connect_timeout_s,
        **redshift_ssl_kwargs(cfg),
    )
    cur = conn.cursor()
    cur.execute(f"SET search_path TO {cfg.schema}, public")
    cur.execute("SET timezone TO 'UTC'")
    conn.commit()
    return conn


def redshift_ssl_kwargs(cfg: WarehouseConfig) -> dict[str, Any]:
    """TLS arguments of `redshift_connector.connect`: `warehouse.redshift_sslmode`, except
    for a local host (the pgbouncer stand-in of the tests speaks no TLS)."""
    if cfg.host in LOCAL_HOSTS or cfg.redshift_sslmode == "disable":
        return {"ssl": False}
    return {"ssl": True, "sslmode": cfg.redshift_sslmode}


def transient_errors() -> tuple[type[BaseException], ...]:
    """Errors meaning "the warehouse is not reachable now": retry, never skip the file."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import psycopg

        errors.append(psycopg.OperationalError)
    except ImportError:  # pragma: no cover - psycopg is a dev dependency
        pass
    import redshift_connector
    from botocore import exceptions as boto

    errors += [redshift_connector.InterfaceError, redshift_connector.OperationalError]
    # an S3 lake that is unreachable (moto down, network) is waited for the same way
    errors += [boto.ConnectionError, boto.HTTPClientError]
    return tuple(errors)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: initial, doubling, capped; attempts 0 = for ever."""

    initial_s: float
    max_s: float
    max_attempts: int = 0

    @classmethod
    def from_config(cls, cfg: WarehouseConfig) -> Backoff:
        return cls(cfg.retry_initial_backoff_s, cfg.retry_max_backoff_s, cfg.retry_max_attempts)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        base = min(self.initial_s * 2 ** (attempt - 1), self.max_s)
        return base * (0.8 + 0.4 * random.random())

    def run(
        self,
        fn: Callable[[], T],
        what: str,
        sleep: Callable[[float], Any] = time.sleep,
        on_retry: Callable[[int, float, BaseException], Any] | None = None,
    ) -> T:
        """`fn()`, retried on transient errors; raises WarehouseUnavailable when out of tries."""
        transient = transient_errors()
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except transient as exc:
                if self.max_attempts and attempt >= self.max_attempts:
                    raise WarehouseUnavailable(
                        f"{what}: warehouse unreachable after {attempt} attempts: {exc}"
                    ) from exc
                wait = self.delay(attempt)
                log.warning(
                    "%s: warehouse unreachable (%s); retry %d in %.1f s",
                    what,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    attempt,
                    wait,
                )
                if on_retry:
                    on_retry(attempt, wait, exc)
                sleep(wait)
