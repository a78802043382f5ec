"""A pgbouncer in front of the local PostgreSQL so redshift-connector can reach it.

redshift-connector 2.2.0 cannot talk to PostgreSQL directly (FINDINGS.md): it sends
startup parameters PostgreSQL rejects (pgbouncer drops them: ignore_startup_parameters),
needs md5 rather than SCRAM (pgbouncer authenticates with md5), and cannot parse Debian's
server version string "15.18 (Debian …)" (`tolerate_debian_server_version`). It still
cannot COPY FROM STDIN (no protocol support), so rows go in with executemany.
Used by tests and by anyone who wants to drive the stand-in through the Redshift driver:
`start(cfg)` → port; `stop()`. Files live in $FRAUD_STACK_DIR/pgbouncer/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from pipeline.config import WarehouseConfig
from pipeline.warehouse.connect import password

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
IGNORED_STARTUP_PARAMETERS = (
    "client_protocol_version",
    "driver_version",
    "os_version",
    "driver_discovery_version",
    "extra_float_digits",
)


def _dir() -> Path:
    from pipeline import stack

    return stack.STACK_DIR / "pgbouncer"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(cfg: WarehouseConfig, timeout_s: float = 15.0) -> int:
    """Start (or reuse) pgbouncer on 127.0.0.1:`warehouse.pgbouncer_port`; returns the port."""
    port = cfg.pgbouncer_port
    if _port_open(port):
        return port
    if not Path(PGBOUNCER).exists():
        raise RuntimeError(
            "pgbouncer is not installed: apt-get install pgbouncer (scripts/setup-system.sh does)"
        )
    d = _dir()
    d.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5((password(cfg) + cfg.user).encode(), usedforsecurity=False).hexdigest()
    userlist = d / "userlist.txt"
    userlist.write_text(f'"{cfg.user}" "md5{md5}"\n')
    ini = d / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"{cfg.database} = host={cfg.host} port={cfg.port} dbname={cfg.database}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = md5\nauth_file = {userlist}\npool_mode = session\n"
        f"ignore_startup_parameters = {','.join(IGNORED_STARTUP_PARAMETERS)}\n"
        f"logfile = {d / 'pgbouncer.log'}\npidfile = {d / 'pgbouncer.pid'}\n"
    )
    cmd = [PGBOUNCER, "-d", str(ini)]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        for p in (d, ini, userlist):
            shutil.chown(p, "postgres", "postgres")
        os.chmod(userlist, 0o600)
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, timeout=timeout_s)
    deadline = time.monotonic() + timeout_s
    while not _port_open(port):
        if time.monotonic() > deadline:
            log = d / "pgbouncer.log"
            raise RuntimeError(f"pgbouncer did not listen on {port}; see {log}")
        time.sleep(0.1)
    return port


def stop() -> None:
    """Stop the pgbouncer `start` launched (by its pid file)."""
    pid_file = _dir() / "pgbouncer.pid"
    if not pid_file.exists():
        return
    with contextlib.suppress(ValueError, ProcessLookupError):
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)


def tolerate_debian_server_version() -> None:
    """Let redshift-connector accept "15.18 (Debian 15.18-0+deb12u1)" as a version.

    The driver parses the server_version parameter with packaging's strict parser; only the
    leading "15.18" matters to it. Affects redshift-connector's module only, and only what
    it parses (Redshift itself reports a plain version).
    """
    from packaging import version as packaging_version
    from redshift_connector import core

    class _TolerantVersion:
        Version = packaging_version.Version
        InvalidVersion = packaging_version.InvalidVersion

        @staticmethod
        def parse(text: str):
            return packaging_version.parse(text.split(" ", 1)[0])

    core.version = _TolerantVersion
