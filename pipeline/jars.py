"""Where the pipeline's JVM dependencies live, and how to build them.

The PyFlink wheel ships no Kafka, Kinesis, Parquet or S3 jars. ``pom.xml`` at
the project root pins them and ``mvn package`` builds:

* ``build/jars/fraud-pipeline-connectors.jar`` -- one shaded jar with the Kafka
  SQL connector, the Parquet format and the few Hadoop classes Parquet needs;
  handed to Flink through the ``pipeline.jars`` option (see :func:`pipeline_jars`).
* ``build/plugins/s3-fs-hadoop/flink-s3-fs-hadoop-<version>.jar`` -- the S3
  filesystem, which Flink only loads from a plugins directory
  (``FLINK_PLUGINS_DIR``, see :data:`PLUGINS_DIR`), never from the classpath.

Importing this module has no side effects; call :func:`ensure_jars` to build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = [
    "BUILD_DIR",
    "CONNECTOR_JAR",
    "MAVEN_COMMAND",
    "PLUGINS_DIR",
    "POM",
    "PROJECT_ROOT",
    "ensure_jars",
    "pipeline_jars",
    "plugins_env",
]

#: Root of the repository (the folder holding ``pom.xml``).
PROJECT_ROOT: Path = Path(__file__).resolve().parent.parent

#: The Maven build that pins every JVM dependency.
POM: Path = PROJECT_ROOT / "pom.xml"

#: Git-ignored output folder of the Maven build.
BUILD_DIR: Path = PROJECT_ROOT / "build"

#: Shaded jar with the connectors and formats, for ``pipeline.jars``.
CONNECTOR_JAR: Path = BUILD_DIR / "jars" / "fraud-pipeline-connectors.jar"

#: Flink plugins root: each sub-folder (``s3-fs-hadoop/``) is one plugin.
PLUGINS_DIR: Path = BUILD_DIR / "plugins"

#: The one command that builds both outputs (run from :data:`PROJECT_ROOT`).
MAVEN_COMMAND: tuple[str, ...] = ("mvn", "-q", "-f", "pom.xml", "package", "-DskipTests")


#: The project's own Java operators, compiled into the connector jar.
JAVA_SOURCES: Path = PROJECT_ROOT / "src" / "main" / "java"


def _is_stale(jar: Path) -> bool:
    """Say whether ``jar`` is missing or older than ``pom.xml`` or a Java source."""
    if not jar.is_file():
        return True
    # A pom edited after the last build (new version, new connector), or a changed
    # operator source, means the jar no longer matches the checkout.
    inputs = [POM, *JAVA_SOURCES.rglob("*.java")] if JAVA_SOURCES.is_dir() else [POM]
    built = jar.stat().st_mtime
    return any(p.is_file() and p.stat().st_mtime > built for p in inputs)


def _plugin_jars() -> list[Path]:
    """List the jars under :data:`PLUGINS_DIR` (empty when not built)."""
    if not PLUGINS_DIR.is_dir():
        return []
    return sorted(PLUGINS_DIR.glob("*/*.jar"))


def ensure_jars(force: bool = False) -> Path:
    """Build the connector jar and plugins with Maven when needed; return the jar.

    The build runs when ``force`` is true, when :data:`CONNECTOR_JAR` is
    missing or older than ``pom.xml``, or when no plugin jar is present.
    Maven's output is streamed to stderr. Raises ``RuntimeError`` (with the
    command to run by hand) when Maven is missing or the build fails.
    """
    if not force and not _is_stale(CONNECTOR_JAR) and _plugin_jars():
        return CONNECTOR_JAR

    command = " ".join(MAVEN_COMMAND)
    mvn = shutil.which(MAVEN_COMMAND[0])
    if mvn is None:
        raise RuntimeError(
            "Maven ('mvn') is not on PATH, so the Flink connector jar cannot be built. "
            f"Install Maven 3.8+ and a JDK 17, then run in {PROJECT_ROOT}:\n    {command}"
        )

    print(f"[pipeline.jars] building JVM dependencies: {command}", file=sys.stderr, flush=True)
    try:
        # stdout goes to our stderr so that callers printing results on stdout
        # (CLIs, notebooks) are not polluted by build logs.
        proc = subprocess.run(
            [mvn, *MAVEN_COMMAND[1:]],
            cwd=PROJECT_ROOT,
            stdout=sys.stderr,
            stderr=sys.stderr,
            check=False,
        )
    except OSError as exc:  # e.g. mvn found but not executable
        raise RuntimeError(
            f"could not start Maven ({exc}); run in {PROJECT_ROOT}:\n    {command}"
        ) from exc

    if proc.returncode != 0:
        raise RuntimeError(
            f"Maven build of the Flink connector jar failed (exit code {proc.returncode}); "
            f"see the Maven output above, then fix and re-run in {PROJECT_ROOT}:\n    {command}"
        )
    if not CONNECTOR_JAR.is_file():
        raise RuntimeError(
            f"Maven succeeded but {CONNECTOR_JAR} was not produced; "
            f"check the shade plugin's outputFile in {POM}"
        )
    # The build may skip rewriting an unchanged jar; touch it so that the
    # staleness check against pom.xml does not rebuild on every call.
    os.utime(CONNECTOR_JAR)
    return CONNECTOR_JAR


def pipeline_jars(*extra: Path | str) -> str:
    """Return the value for Flink's ``pipeline.jars`` option.

    That is the ``file://`` URL of :data:`CONNECTOR_JAR` (plus any ``extra``
    jars), joined with ``;`` as Flink expects. Does not build anything: call
    :func:`ensure_jars` first.
    """
    jars = [CONNECTOR_JAR, *(Path(e) for e in extra)]
    # Path.as_uri() gives file:///abs/path, the form Flink's classloader wants;
    # relative paths or bare paths without a scheme are rejected by Flink.
    return ";".join(Path(j).resolve().as_uri() for j in jars)


def plugins_env() -> dict[str, str]:
    """Return the environment entry that points a Flink *cluster* at :data:`PLUGINS_DIR`.

    For a standalone cluster (``bin/start-cluster.sh``) or ``flink run``,
    export it before starting them. It does not help a job run from Python on
    the local mini-cluster: there use :func:`init_local_filesystems`.
    """
    return {"FLINK_PLUGINS_DIR": str(PLUGINS_DIR)}


def init_local_filesystems(config) -> list[str]:
    """Load the filesystem plugins of :data:`PLUGINS_DIR` into the local PyFlink JVM.

    ``config`` is the ``pyflink.common.Configuration`` given to
    ``StreamExecutionEnvironment.get_execution_environment``; it must hold the
    ``s3.*`` options (endpoint, path-style access, credentials) because the
    filesystems are configured once, here. Call it after creating the
    environment and before ``execute()``. Returns the plugin ids loaded.
    """
    # Why this exists: a job started from Python runs in PyFlink's gateway JVM
    # on a MiniCluster, and neither of them calls FileSystem.initialize with a
    # plugin manager (only the cluster entrypoints and `flink run` do), so
    # s3:// fails with UnsupportedFileSystemSchemeException whatever
    # FLINK_PLUGINS_DIR says. PyFlink also overwrites FLINK_PLUGINS_DIR with
    # its own plugins folder unless FLINK_HOME is set. Building the plugin
    # manager from our folder directly avoids both.
    from pyflink.java_gateway import get_gateway  # local: no JVM at import time

    jvm = get_gateway().jvm
    j_config = config._j_configuration
    finder = jvm.org.apache.flink.core.plugin.DirectoryBasedPluginFinder(
        jvm.java.io.File(str(PLUGINS_DIR)).toPath()
    )
    descriptors = finder.findPlugins()
    patterns = jvm.org.apache.flink.configuration.CoreOptions.getPluginParentFirstLoaderPatterns(
        j_config
    )
    manager = jvm.org.apache.flink.core.plugin.DefaultPluginManager(descriptors, patterns)
    jvm.org.apache.flink.core.fs.FileSystem.initialize(j_config, manager)
    return [d.getPluginId() for d in descriptors]  # py4j iterates java.util.Collection
