"""The Flink execution environment for local runs (minicluster), configured from the config."""

from __future__ import annotations

import os
import site
import sys

from pyflink.common import Configuration
from pyflink.datastream import (
    CheckpointingMode,
    RuntimeExecutionMode,
    StreamExecutionEnvironment,
)
from pyflink.table import StreamTableEnvironment

from .config import PROJECT_ROOT, PipelineConfig
from .jars import prometheus_reporter_jar


def python_path() -> str:
    """PYTHONPATH for the Python workers: the project and this interpreter's packages.

    In thread mode the functions run in an interpreter embedded in the JVM, which does not
    know about the virtualenv; in process mode workers start from `python.executable`.
    """
    parts = [str(PROJECT_ROOT), *site.getsitepackages()]
    existing = os.environ.get("PYTHONPATH")
    return os.pathsep.join(parts + ([existing] if existing else []))


def flink_configuration(cfg: PipelineConfig, jars: str | None) -> Configuration:
    f = cfg.flink
    conf = Configuration()
    conf.set_string("python.executable", sys.executable)
    conf.set_string("python.client.executable", sys.executable)
    conf.set_string("python.execution-mode", f.python_execution_mode)
    conf.set_string("python.fn-execution.bundle.size", str(f.bundle_size))
    conf.set_string("python.fn-execution.bundle.time", str(f.bundle_time_ms))
    conf.set_string("python.state.cache-size", str(f.bundle_size))
    conf.set_string("table.local-time-zone", "UTC")
    conf.set_string("state.backend.type", f.state_backend)
    conf.set_string("execution.checkpointing.dir", cfg.resolve(f.checkpoint_dir).as_uri())
    # A cancelled job keeps its last checkpoint, so it can be restarted from it.
    conf.set_string(
        "execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"
    )
    if f.state_recovery_path:
        recovery = cfg.resolve(f.state_recovery_path).as_uri()
        conf.set_string("execution.state-recovery.path", recovery)
    # The wallet-risk function writes its state when the ShardBatcher's sync batch comes
    # right before a barrier; an unaligned barrier could overtake it (pipeline/functions.py).
    conf.set_string("execution.checkpointing.unaligned.enabled", "false")
    # A bounded local run should fail with its error, not retry forever.
    conf.set_string("restart-strategy.type", "none")
    if jars:
        conf.set_string("pipeline.jars", jars)
    for key, value in prometheus_reporter_options(cfg.metrics.prometheus_ports).items():
        conf.set_string(key, value)
    return conf


def prometheus_reporter_options(ports: str) -> dict[str, str]:
    """Flink options of the Prometheus reporter on `ports` (a port or range); {} if none.

    Flink's reporter binds the first free port of the range on all interfaces (it has no
    host option); scrape it at http://127.0.0.1:<port>/metrics.
    """
    if not ports:
        return {}
    return {
        "metrics.reporter.prom.factory.class": (
            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
        ),
        "metrics.reporter.prom.port": ports,
        # Kafka's own consumer metrics (records-lag-max, …) and the source's pendingRecords
        # are operator metrics; they are reported like ours, nothing to filter.
    }


def create_environments(
    cfg: PipelineConfig, jars: str | None = None
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """A streaming environment with exactly-once checkpoints, and its table environment.

    Must run before the JVM starts (first PyFlink call in the process), because the
    workers inherit PYTHONPATH from it.
    """
    os.environ["PYTHONPATH"] = python_path()
    if cfg.metrics.prometheus_ports:
        # The MiniCluster finds metric reporters only on the JVM's classpath; PyFlink's
        # gateway launcher appends HADOOP_CLASSPATH to it (pyflink_gateway_server.py).
        jar = str(prometheus_reporter_jar())
        existing = os.environ.get("HADOOP_CLASSPATH")
        if jar not in (existing or "").split(os.pathsep):
            os.environ["HADOOP_CLASSPATH"] = os.pathsep.join(filter(None, [existing, jar]))
    log_dir = cfg.resolve(cfg.flink.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FLINK_LOG_DIR"] = str(log_dir)
    os.environ["LOG4J_PROPERTIES"] = str(PROJECT_ROOT / "flink-conf" / "log4j-local.properties")
    env = StreamExecutionEnvironment.get_execution_environment(flink_configuration(cfg, jars))
    env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
    env.set_parallelism(cfg.flink.parallelism)
    env.enable_checkpointing(cfg.flink.checkpoint_interval_ms, CheckpointingMode.EXACTLY_ONCE)
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("table.local-time-zone", "UTC")
    return env, t_env
