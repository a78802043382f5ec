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

from .class_sharing import use_archive
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
    conf.set_string("execution.checkpointing.dir", _uri(cfg, f.checkpoint_dir))
    # A killed or cancelled job leaves its last checkpoint behind, to restart from it.
    conf.set_string(
        "execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"
    )
    if f.restore_path:
        conf.set_string("execution.state-recovery.path", _uri(cfg, f.restore_path))
        conf.set_string(
            "execution.state-recovery.ignore-unclaimed-state",
            str(f.restore_ignore_unclaimed_state).lower(),
        )
    # The wallet-risk function writes its state when the ShardBatcher's sync batch comes
    # right before a barrier; an unaligned barrier could overtake it (pipeline/functions.py).
    conf.set_string("execution.checkpointing.unaligned.enabled", "false")
    # A bounded local run should fail with its error, not retry forever.
    conf.set_string("restart-strategy.type", "none")
    for key, value in s3_options(cfg).items():
        conf.set_string(key, value)
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


def _uri(cfg: PipelineConfig, location: str) -> str:
    """A configured folder as a URI: s3://… and file:… (as Flink prints savepoint paths)
    stay, a local path is resolved."""
    return (
        location
        if "://" in location or location.startswith("file:")
        else cfg.resolve(location).as_uri()
    )


def s3_options(cfg: PipelineConfig) -> dict[str, str]:
    """Options of the flink-s3-fs-hadoop plugin: endpoint and path-style access from the
    config. No keys: the plugin's default chain reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
    from the environment (or an instance profile on AWS)."""
    options = {"s3.path.style.access": str(cfg.sink.s3_path_style_access).lower()}
    if cfg.sink.s3_endpoint:
        options["s3.endpoint"] = cfg.sink.s3_endpoint
    return options


def create_environments(
    cfg: PipelineConfig, jars: str | None = None
) -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """A streaming environment with exactly-once checkpoints, and its table environment.

    `jars`: the value of `pipeline.jars`; by default the project's connector jar (built if
    missing or stale), which holds the repo's own operators (shard batcher, watermarks).
    Must run before the JVM starts (first PyFlink call in the process), because the
    workers inherit PYTHONPATH from it.
    """
    if jars is None:
        from .jars import ensure_jars, pipeline_jars

        ensure_jars()
        jars = pipeline_jars()
    os.environ["PYTHONPATH"] = python_path()
    use_archive()  # the JVM maps the pre-parsed Flink classes (pipeline/class_sharing.py)
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
    conf = flink_configuration(cfg, jars)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    if cfg.sink.kind == "s3" or cfg.flink.checkpoint_dir.startswith("s3://"):
        from .jars import init_local_filesystems

        # The minicluster loads no filesystem plugins by itself (see init_local_filesystems).
        init_local_filesystems(conf)
    env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
    env.set_parallelism(cfg.flink.parallelism)
    env.enable_checkpointing(cfg.flink.checkpoint_interval_ms, CheckpointingMode.EXACTLY_ONCE)
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("table.local-time-zone", "UTC")
    return env, t_env
