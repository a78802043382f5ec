"""The local stack of real servers on 127.0.0.1: `python -m pipeline.stack up|down|status`.

| service  | stands in for                        | endpoint                          |
|----------|--------------------------------------|-----------------------------------|
| kafka    | Amazon MSK (single-node KRaft broker)| 127.0.0.1:9092 (controller 9093)  |
|          | ... its SASL_SSL listener (SCRAM)    | 127.0.0.1:9094 (`kafka_client_tls`)|
| moto     | S3, Kinesis, SNS, CloudWatch         | http://127.0.0.1:5000             |
| postgres | Amazon Redshift (PostgreSQL 15)      | 127.0.0.1:5433, database `fraud`  |

Ports come from FRAUD_STACK_KAFKA_PORT, FRAUD_STACK_KAFKA_CONTROLLER_PORT,
FRAUD_STACK_KAFKA_SASL_PORT, FRAUD_STACK_MOTO_PORT and FRAUD_STACK_PG_PORT (defaults
above), the folder from FRAUD_STACK_DIR: a second stack runs beside the first.
`start|stop|pause|resume <service>` act on one service (moto holds everything in memory:
pause it, a stop loses its state).

State lives in `.stack/` (git-ignored): logs in `.stack/logs/`, pids in `.stack/pids/`.
The Kafka broker's jars come from Maven Central through `stack/kafka/pom.xml` into
`build/stack/kafka-libs/` (git-ignored). `up` is idempotent: a healthy service is reused.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK_DIR = Path(os.environ.get("FRAUD_STACK_DIR", ROOT / ".stack")).resolve()
LOG_DIR = STACK_DIR / "logs"
PID_DIR = STACK_DIR / "pids"
KAFKA_POM = ROOT / "stack" / "kafka" / "pom.xml"
KAFKA_LIBS = ROOT / "build" / "stack" / "kafka-libs"

HOST = "127.0.0.1"
# Ports from the environment, so a second stack (e.g. the failure-injection suite's, which
# stops its broker and S3) can run beside the shared one: FRAUD_STACK_DIR + these ports.
DEFAULT_PORTS = {
    "kafka": 9092,
    "kafka_controller": 9093,
    "kafka_sasl": 9094,
    "moto": 5000,
    "pg": 5433,
}
PORT_ENV = {name: f"FRAUD_STACK_{name.upper()}_PORT" for name in DEFAULT_PORTS}
KAFKA_PORT = int(os.environ.get(PORT_ENV["kafka"], DEFAULT_PORTS["kafka"]))
KAFKA_CONTROLLER_PORT = int(
    os.environ.get(PORT_ENV["kafka_controller"], DEFAULT_PORTS["kafka_controller"])
)
KAFKA_BOOTSTRAP = f"{HOST}:{KAFKA_PORT}"
# The broker's second listener, as a production cluster is reached: TLS (a self-signed
# certificate for 127.0.0.1, made at first start) and SASL/SCRAM-SHA-512 with one user.
KAFKA_SASL_PORT = int(os.environ.get(PORT_ENV["kafka_sasl"], DEFAULT_PORTS["kafka_sasl"]))
KAFKA_SASL_BOOTSTRAP = f"{HOST}:{KAFKA_SASL_PORT}"
KAFKA_SCRAM_USER = "fraud-client"
# LOCAL-ONLY defaults for the throw-away broker on 127.0.0.1; not secrets.
KAFKA_SCRAM_PASSWORD = os.environ.get("FRAUD_STACK_KAFKA_SCRAM_PASSWORD", "fraud-scram-local-only")
_KAFKA_TLS_PASSWORD = os.environ.get("FRAUD_STACK_KAFKA_TLS_PASSWORD", "fraud-tls-local-only")
MOTO_PORT = int(os.environ.get(PORT_ENV["moto"], DEFAULT_PORTS["moto"]))
MOTO_ENDPOINT = f"http://{HOST}:{MOTO_PORT}"
PG_PORT = int(os.environ.get(PORT_ENV["pg"], DEFAULT_PORTS["pg"]))
PG_DATABASE = "fraud"
PG_USER = os.environ.get("FRAUD_PG_USER", "fraud")
# LOCAL-ONLY default password for the throw-away test cluster on 127.0.0.1; not a secret.
PG_PASSWORD = os.environ.get("FRAUD_PG_PASSWORD", "fraud-local-only")
PG_BIN = Path(os.environ.get("FRAUD_PG_BIN", "/usr/lib/postgresql/15/bin"))

KAFKA_TOPICS = {"transactions": 4, "transactions-dlq": 1, "fraud-alerts": 1, "fraud-control": 1}
S3_BUCKET = "fraud-lake"
KINESIS_STREAM = "transactions"
KINESIS_SHARDS = 2
AWS_REGION = "us-east-1"

START_TIMEOUT_S = float(os.environ.get("FRAUD_STACK_TIMEOUT", "90"))


class StackError(RuntimeError):
    """A service could not be started or checked; the message names its log."""


def local_aws_env() -> dict[str, str]:
    """Dummy AWS settings for moto on 127.0.0.1 (applied only where unset; never real keys)."""
    defaults = {
        "AWS_ACCESS_KEY_ID": "testing",  # moto accepts any key: local-only dummy
        "AWS_SECRET_ACCESS_KEY": "testing",  # local-only dummy
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AWS_REGION": AWS_REGION,
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return {k: os.environ[k] for k in defaults}


def config_defaults(defaults: dict, environ) -> dict:
    """Config defaults (dotted key -> value) that name the stack's default endpoints, moved
    to the ports `environ` sets (FRAUD_STACK_*_PORT); every other value unchanged.

    So `FRAUD_STACK_KAFKA_PORT=19092 python -m pipeline …` reads from that broker without
    restating each bootstrap / endpoint key (explicit FRAUD_* keys still win).
    """
    ports = {name: int(environ.get(PORT_ENV[name], p)) for name, p in DEFAULT_PORTS.items()}
    if ports == DEFAULT_PORTS:
        return defaults
    moved = {
        f"{HOST}:{DEFAULT_PORTS['kafka']}": f"{HOST}:{ports['kafka']}",
        f"http://{HOST}:{DEFAULT_PORTS['moto']}": f"http://{HOST}:{ports['moto']}",
    }
    out = dict(defaults)
    for key, value in defaults.items():
        if isinstance(value, str) and value in moved:
            out[key] = moved[value]
        elif key == "warehouse.port" and value == DEFAULT_PORTS["pg"]:
            out[key] = ports["pg"]
    return out


def pg_dsn() -> str:
    return f"host={HOST} port={PG_PORT} dbname={PG_DATABASE} user={PG_USER} password={PG_PASSWORD}"


# ---------------------------------------------------------------- process helpers


def _pid_file(name: str) -> Path:
    return PID_DIR / f"{name}.pid"


def _read_pid(name: str) -> int | None:
    try:
        return int(_pid_file(name).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is not running


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def stack_processes() -> dict[int, str]:
    """Every live process that belongs to this stack (scan of /proc, not just pid files)."""
    stack = f"{STACK_DIR}/"  # with the slash: not a sibling folder whose name extends it
    found: dict[int, str] = {}
    pids = _all_pids()
    for pid in pids:
        if pid == os.getpid() or not _alive(pid):
            continue
        cmd = _cmdline(pid)
        if (stack in cmd and ("kafka.Kafka" in cmd or "postgres" in cmd)) or (
            "moto.server" in cmd and f"-p {MOTO_PORT}" in cmd
        ):
            found[pid] = cmd
    # postgres children ("postgres: checkpointer" ...) do not show the data dir
    for pid in pids:
        if pid not in found and _ppid(pid) in found and _alive(pid):
            found[pid] = _cmdline(pid)
    for name in ("kafka", "moto", "postgres"):
        pid = _read_pid(name)
        if _alive(pid) and pid not in found:
            found[pid] = _cmdline(pid)
    return found


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _port_open(port: int, timeout: float = 0.5) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((HOST, port)) == 0


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait(name: str, check: Callable[[], bool], log: Path, pid: int | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if pid is not None and not _alive(pid):
            raise StackError(
                f"{name} exited during start-up; see {log}\n--- last lines ---\n{_log_tail(log)}"
            )
        time.sleep(0.5)
    raise StackError(
        f"{name} not healthy after {timeout:.0f}s; see {log}\n--- last lines ---\n{_log_tail(log)}"
    )


def _spawn(name: str, cmd: list[str], env: dict[str, str] | None = None) -> int:
    log = LOG_DIR / f"{name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=STACK_DIR,
            env=env,
            start_new_session=True,  # survives the caller; its own process group for `down`
        )
    _pid_file(name).write_text(f"{proc.pid}\n")
    return proc.pid


def _kill(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `timeout`."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5)
        while time.monotonic() < deadline and _alive(pid):
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)  # reap if it is our child
            time.sleep(0.2)
        if not _alive(pid):
            return


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------- Kafka


def _kafka_healthy() -> bool:
    if not _port_open(KAFKA_PORT):
        return False
    try:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": KAFKA_BOOTSTRAP, "log_level": 0})
        admin.list_topics(timeout=3)
        return True
    except Exception:
        return False


def ensure_kafka_jars() -> Path:
    stamp = KAFKA_LIBS / ".stamp"
    if stamp.exists() and stamp.stat().st_mtime >= KAFKA_POM.stat().st_mtime:
        return KAFKA_LIBS
    if not shutil.which("mvn"):
        raise StackError("Maven (mvn) is needed to fetch the Kafka broker jars: make setup")
    shutil.rmtree(KAFKA_LIBS, ignore_errors=True)
    res = _run(
        [
            "mvn", "-q", "-B", "-f", str(KAFKA_POM), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={KAFKA_LIBS}",
        ],
        timeout=600,
    )  # fmt: skip
    if res.returncode != 0:
        raise StackError(f"mvn failed for {KAFKA_POM}:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    stamp.touch()
    return KAFKA_LIBS


_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


@dataclass(frozen=True)
class KafkaTls:
    keystore: Path  # the broker's key and self-signed certificate (PKCS12)
    ca_pem: Path  # that certificate, PEM: the clients' truststore


def kafka_client_tls() -> KafkaTls:
    """Where the SASL_SSL listener's certificate lives (clients trust `ca_pem`)."""
    tls = STACK_DIR / "kafka" / "tls"
    return KafkaTls(tls / "broker.p12", tls / "ca.pem")


def _kafka_tls() -> KafkaTls:
    """The SASL_SSL listener's certificate: self-signed for IP 127.0.0.1 (clients can
    verify the host name), made with the JDK's keytool at the first start."""
    tls = kafka_client_tls()
    if tls.keystore.exists() and tls.ca_pem.exists():
        return tls
    keytool = shutil.which("keytool")
    if not keytool:
        raise StackError("keytool (JDK 17+) is needed for the Kafka TLS listener: make setup")
    tls.keystore.parent.mkdir(parents=True, exist_ok=True)
    tls.keystore.unlink(missing_ok=True)
    store = ["-keystore", str(tls.keystore), "-storepass", _KAFKA_TLS_PASSWORD]
    for args in (
        ["-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048",
         "-dname", f"CN={HOST}", "-ext", f"SAN=ip:{HOST},dns:localhost", "-validity", "3650",
         "-storetype", "PKCS12", "-keypass", _KAFKA_TLS_PASSWORD, *store],
        ["-exportcert", "-rfc", "-alias", "broker", "-file", str(tls.ca_pem), *store],
    ):  # fmt: skip
        res = _run([keytool, *args], timeout=60)
        if res.returncode != 0:
            raise StackError(f"keytool failed: {res.stdout[-800:]}{res.stderr[-800:]}")
    return tls


def _kafka_config(kdir: Path) -> Path:
    tls = _kafka_tls()
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{KAFKA_CONTROLLER_PORT}",
        "listeners": f"PLAINTEXT://{HOST}:{KAFKA_PORT},CONTROLLER://{HOST}:{KAFKA_CONTROLLER_PORT},"
        f"SASL_SSL://{HOST}:{KAFKA_SASL_PORT}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{KAFKA_PORT},SASL_SSL://{HOST}:{KAFKA_SASL_PORT}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": (
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL"
        ),
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "listener.name.sasl_ssl.ssl.keystore.location": str(tls.keystore),
        "listener.name.sasl_ssl.ssl.keystore.type": "PKCS12",
        "listener.name.sasl_ssl.ssl.keystore.password": _KAFKA_TLS_PASSWORD,
        "listener.name.sasl_ssl.ssl.key.password": _KAFKA_TLS_PASSWORD,
        "log.dirs": str(kdir / "data"),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "24",
    }
    conf = kdir / "server.properties"
    conf.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (kdir / "log4j2.properties").write_text(_LOG4J2)
    return conf


def _java_cmd(kdir: Path, main: str, *args: str) -> list[str]:
    java = shutil.which("java")
    if not java:
        raise StackError("java (17+) is needed for the Kafka broker: make setup")
    return [
        java, "-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        "-Dlog4j2.shutdownHookEnabled=false",  # keep logging through the broker shutdown
        f"-Dlog4j2.configurationFile={kdir / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={LOG_DIR}",
        "-cp", f"{KAFKA_LIBS}/*", main, *args,
    ]  # fmt: skip


def start_kafka() -> str:
    if _kafka_healthy():
        return "reused"
    if any(_port_open(p) for p in (KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_SASL_PORT)):
        raise StackError(
            f"ports {KAFKA_PORT}/{KAFKA_CONTROLLER_PORT}/{KAFKA_SASL_PORT} are taken by "
            "something that is not a healthy Kafka broker; free them "
            "(see `python -m pipeline.stack status`)"
        )
    ensure_kafka_jars()
    kdir = STACK_DIR / "kafka"
    kdir.mkdir(parents=True, exist_ok=True)
    conf = _kafka_config(kdir)
    log = LOG_DIR / "kafka.log"
    if not (kdir / "data" / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        res = _run(
            _java_cmd(kdir, "kafka.tools.StorageTool", "format", "--config", str(conf),
                      "--cluster-id", cluster_id, "--ignore-formatted"),
            timeout=120,
        )  # fmt: skip
        with open(log, "a") as out:
            out.write(res.stdout + res.stderr)
        if res.returncode != 0:
            raise StackError(f"Kafka storage format failed; see {log}\n{res.stderr[-1500:]}")
    pid = _spawn("kafka", _java_cmd(kdir, "kafka.Kafka", str(conf)))
    _wait("kafka", _kafka_healthy, log, pid, START_TIMEOUT_S)
    return "started"


def ensure_kafka_resources() -> None:
    ensure_topics()
    ensure_scram_user()


def ensure_scram_user() -> None:
    """The SASL_SSL listener's user (`KAFKA_SCRAM_USER`), set through the PLAINTEXT one."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    admin = AdminClient({"bootstrap.servers": KAFKA_BOOTSTRAP, "log_level": 3})
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    upsert = UserScramCredentialUpsertion(KAFKA_SCRAM_USER, info, KAFKA_SCRAM_PASSWORD.encode())
    for user, fut in admin.alter_user_scram_credentials([upsert]).items():
        try:
            fut.result(timeout=30)
        except Exception as exc:
            raise StackError(f"creating the Kafka SCRAM user {user} failed: {exc}") from exc


def ensure_topics() -> None:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": KAFKA_BOOTSTRAP, "log_level": 3})
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [
        NewTopic(name, num_partitions=parts, replication_factor=1)
        for name, parts in KAFKA_TOPICS.items()
        if name not in existing
    ]
    if not wanted:
        return
    for name, fut in admin.create_topics(wanted, operation_timeout=30).items():
        try:
            fut.result(timeout=30)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise StackError(f"creating Kafka topic {name} failed: {exc}") from exc


# ---------------------------------------------------------------- moto


def _moto_healthy() -> bool:
    try:
        with urllib.request.urlopen(f"{MOTO_ENDPOINT}/moto-api/", timeout=2) as resp:
            return resp.status == 200
    except Exception:
        return False


def start_moto() -> str:
    if _moto_healthy():
        return "reused"
    if _port_open(MOTO_PORT):
        raise StackError(f"port {MOTO_PORT} is taken by something that is not moto server")
    pid = _spawn(
        "moto",
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(MOTO_PORT)],
        env={**os.environ, **local_aws_env()},
    )
    _wait("moto", _moto_healthy, LOG_DIR / "moto.log", pid, START_TIMEOUT_S)
    return "started"


def aws_client(service: str):
    import boto3

    local_aws_env()
    return boto3.client(service, endpoint_url=MOTO_ENDPOINT, region_name=AWS_REGION)


def ensure_aws_resources() -> None:
    s3 = aws_client("s3")
    names = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if S3_BUCKET not in names:
        s3.create_bucket(Bucket=S3_BUCKET)
    kinesis = aws_client("kinesis")
    if KINESIS_STREAM not in kinesis.list_streams().get("StreamNames", []):
        kinesis.create_stream(StreamName=KINESIS_STREAM, ShardCount=KINESIS_SHARDS)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=KINESIS_STREAM, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


# ---------------------------------------------------------------- PostgreSQL


def _pg_dirs() -> tuple[Path, Path, Path]:
    base = STACK_DIR / "postgres"
    return base, base / "data", base / "run"


def _as_pg_user(cmd: list[str]) -> list[str]:
    """initdb/pg_ctl refuse to run as root: run them as `postgres` then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _pg_healthy() -> bool:
    if not _port_open(PG_PORT):
        return False
    res = _run([str(PG_BIN / "pg_isready"), "-q", "-h", HOST, "-p", str(PG_PORT)], timeout=10)
    return res.returncode == 0


def _psql(sql: str, db: str = "postgres") -> str:
    _, _, run = _pg_dirs()
    superuser = "postgres" if os.geteuid() == 0 else _current_user()
    res = _run(
        _as_pg_user([str(PG_BIN / "psql"), "-h", str(run), "-p", str(PG_PORT), "-U", superuser,
                     "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql]),
        timeout=30,
    )  # fmt: skip
    if res.returncode != 0:
        raise StackError(f"psql failed: {res.stderr.strip()} (SQL: {sql[:80]})")
    return res.stdout.strip()


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def start_postgres() -> str:
    base, data, run = _pg_dirs()
    log = LOG_DIR / "postgres.log"
    if _pg_healthy():
        if (data / "postmaster.pid").exists():
            _record_pg_pid()
            return "reused"
        raise StackError(f"port {PG_PORT} is served by a PostgreSQL that is not this stack's")
    if _port_open(PG_PORT):
        raise StackError(f"port {PG_PORT} is taken by something that is not PostgreSQL")
    if not (PG_BIN / "initdb").exists():
        _install_postgres()
    root = os.geteuid() == 0
    for d in (base, run):
        d.mkdir(parents=True, exist_ok=True)
    log.touch()
    if root:
        for p in (base, run, log):
            shutil.chown(p, "postgres", "postgres")
        os.chmod(run, 0o700)
    if not (data / "PG_VERSION").exists():
        res = _run(
            _as_pg_user([str(PG_BIN / "initdb"), "-D", str(data), "-U",
                         "postgres" if root else _current_user(), "--auth-local=trust",
                         "--auth-host=md5", "-E", "UTF8", "--locale=C"]),
            timeout=120,
        )  # fmt: skip
        with open(log, "a") as out:
            out.write(res.stdout + res.stderr)
        if res.returncode != 0:
            raise StackError(f"initdb failed; see {log}\n{res.stderr[-1500:]}")
        extra = (
            f"\n# --- local stack (pipeline/stack.py) ---\n"
            f"listen_addresses = '{HOST}'\nport = {PG_PORT}\n"
            f"unix_socket_directories = '{run}'\nunix_socket_permissions = 0700\n"
            f"password_encryption = 'md5'\nshared_buffers = 128MB\nfsync = off\n"
        )
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(extra)
        (data / "pg_hba.conf").write_text(
            "# local stack: socket (private dir) trusted, TCP 127.0.0.1 with md5 passwords\n"
            "local all all trust\n"
            f"host all all {HOST}/32 md5\n"
        )
    res = _run(
        _as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                     "-t", str(int(START_TIMEOUT_S)), "start"]),
        timeout=START_TIMEOUT_S + 10,
    )  # fmt: skip
    if res.returncode != 0:
        raise StackError(
            f"pg_ctl start failed; see {log}\n{res.stdout[-800:]}{res.stderr[-800:]}\n"
            f"--- last lines ---\n{_log_tail(log)}"
        )
    _record_pg_pid()
    _wait("postgres", _pg_healthy, log, None, START_TIMEOUT_S)
    return "started"


def _record_pg_pid() -> None:
    _, data, _ = _pg_dirs()
    with contextlib.suppress(OSError, IndexError):
        _pid_file("postgres").write_text((data / "postmaster.pid").read_text().splitlines()[0])


def _install_postgres() -> None:
    if os.geteuid() != 0:
        raise StackError(f"PostgreSQL 15 not found at {PG_BIN}: apt-get install postgresql-15")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql-15"]):
        res = _run(cmd, env=env, timeout=600)
        if res.returncode != 0:
            raise StackError(f"{' '.join(cmd)} failed:\n{res.stderr[-1500:]}")
    # Debian's package starts its own cluster on 5432; ours is separate (5433, own dir).


def ensure_pg_database() -> None:
    user = PG_USER.replace('"', "")
    pw = PG_PASSWORD.replace("'", "''")
    if _psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'") != "1":
        _psql(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{pw}'")
    else:  # keep the role's password in step with FRAUD_PG_PASSWORD
        _psql(f"SET password_encryption = 'md5'; ALTER ROLE \"{user}\" PASSWORD '{pw}'")
    if _psql(f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'") != "1":
        _psql(f'CREATE DATABASE "{PG_DATABASE}" OWNER "{user}"')


def stop_postgres() -> None:
    _, data, _ = _pg_dirs()
    if (data / "postmaster.pid").exists() and (PG_BIN / "pg_ctl").exists():
        _run(
            _as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                         "-t", "30", "stop"]),
            timeout=45,
        )  # fmt: skip


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class Service:
    name: str
    endpoint: str
    healthy: Callable[[], bool]


SERVICES = (
    Service("kafka", f"{KAFKA_BOOTSTRAP} (PLAINTEXT; controller {HOST}:{KAFKA_CONTROLLER_PORT}; "
            f"SASL_SSL/SCRAM-SHA-512 {KAFKA_SASL_BOOTSTRAP}, user {KAFKA_SCRAM_USER})",
            _kafka_healthy),
    Service("moto", f"{MOTO_ENDPOINT} (S3, Kinesis, SNS, CloudWatch)", _moto_healthy),
    Service("postgres", f"postgresql://{PG_USER}@{HOST}:{PG_PORT}/{PG_DATABASE}", _pg_healthy),
)  # fmt: skip


def up(verbose: bool = True) -> dict[str, str]:
    """Start (or reuse) every service, create topics/bucket/stream/database; health-checked."""
    for d in (LOG_DIR, PID_DIR):
        d.mkdir(parents=True, exist_ok=True)
    result: dict[str, str] = {}
    for name in _STEPS:
        t0 = time.monotonic()
        state = start_service(name)
        result[name] = state
        if verbose:
            print(f"{name:<9} {state:<8} {time.monotonic() - t0:5.1f}s", flush=True)
    if verbose:
        print_endpoints()
    return result


def print_endpoints() -> None:
    print("endpoints:")
    for svc in SERVICES:
        print(f"  {svc.name:<9} {svc.endpoint}")
    print(f"  topics    {', '.join(KAFKA_TOPICS)}")
    print(f"  s3        s3://{S3_BUCKET}   kinesis stream {KINESIS_STREAM}")
    print(f"  logs      {LOG_DIR}/   pids {PID_DIR}/")


def down(verbose: bool = True) -> list[int]:
    """Stop every service; returns the stack processes still alive afterwards (should be [])."""
    stop_postgres()
    for name in ("kafka", "moto", "postgres"):
        pid = _read_pid(name)
        if _alive(pid):
            _kill(pid)
    for pid in sorted(stack_processes()):  # stragglers from an earlier, unrecorded run
        _kill(pid, timeout=10)
    left = sorted(stack_processes())
    for name in ("kafka", "moto", "postgres"):
        with contextlib.suppress(FileNotFoundError):
            if not _alive(_read_pid(name)):
                _pid_file(name).unlink()
    if verbose:
        print("stack down" if not left else f"processes still alive: {left}")
    return left


_STEPS: dict[str, tuple[Callable[[], str], Callable[[], None]]] = {
    "kafka": (start_kafka, ensure_kafka_resources),
    "moto": (start_moto, ensure_aws_resources),
    "postgres": (start_postgres, ensure_pg_database),
}


def start_service(name: str) -> str:
    """Start (or reuse) one service and provision it: 'started' or 'reused'."""
    for d in (LOG_DIR, PID_DIR):
        d.mkdir(parents=True, exist_ok=True)
    start, provision = _STEPS[name]
    state = start()
    provision()
    return state


def stop_service(name: str) -> None:
    """Stop one service cleanly (SIGTERM, then SIGKILL after 20 s; PostgreSQL: fast
    shutdown). Kafka and PostgreSQL keep their data on disk and come back with it;
    moto keeps everything in memory, so a stopped moto loses its buckets and streams
    (use `pause_service` to make it unavailable without losing them)."""
    if name not in _STEPS:
        raise StackError(f"unknown service {name!r} (one of {', '.join(_STEPS)})")
    if name == "postgres":
        stop_postgres()
    pid = _read_pid(name)
    if _alive(pid):
        _kill(pid)
    with contextlib.suppress(FileNotFoundError):
        _pid_file(name).unlink()


def pause_service(name: str) -> None:
    """Freeze one service (SIGSTOP of its process group): its port still accepts
    connections but nothing answers, as with a hung server; its memory is kept."""
    _signal_service(name, signal.SIGSTOP)


def resume_service(name: str) -> None:
    """Undo `pause_service` (SIGCONT)."""
    _signal_service(name, signal.SIGCONT)


def _signal_service(name: str, sig: signal.Signals) -> None:
    pid = _read_pid(name)
    if not _alive(pid):
        raise StackError(f"{name} is not running (no live pid in {_pid_file(name)})")
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def status() -> dict[str, bool]:
    states = {svc.name: svc.healthy() for svc in SERVICES}
    for svc in SERVICES:
        pid = _read_pid(svc.name)
        where = f"pid {pid}" if _alive(pid) else "no pid"
        print(f"{svc.name:<9} {'up' if states[svc.name] else 'down':<5} {where:<12} {svc.endpoint}")
    return states


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m pipeline.stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", choices=["up", "down", "status", "start", "stop", "pause", "resume"]
    )
    parser.add_argument(
        "service",
        nargs="?",
        choices=list(_STEPS),
        help="start | stop | pause | resume act on this one service",
    )
    args = parser.parse_args(argv)
    one = {
        "start": start_service,
        "stop": stop_service,
        "pause": pause_service,
        "resume": resume_service,
    }
    try:
        if args.command in one:
            if not args.service:
                parser.error(f"{args.command} needs a service: {', '.join(_STEPS)}")
            result = one[args.command](args.service)
            print(f"{args.service}: {result or args.command + ' done'}")
            return 0
        if args.command == "up":
            t0 = time.monotonic()
            up()
            print(f"stack up in {time.monotonic() - t0:.1f}s")
            return 0
        if args.command == "down":
            return 1 if down() else 0
        return 0 if all(status().values()) else 3
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
