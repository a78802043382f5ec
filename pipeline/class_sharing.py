"""Class-data sharing (AppCDS) for the local job's JVM: `python -m pipeline cds`.

Every local run (`make run`, the benchmark, each minicluster test) starts a JVM that loads
and verifies the same ~15,000 Flink, Calcite and Janino classes before the job's first
record: measured, a quarter of a small job's wall time. A dynamic CDS archive holds those
classes parsed and verified; a JVM started with it maps the archive instead
(`-XX:SharedArchiveFile`). `make setup` builds it once (`ensure_archive`: a small job run
with `-XX:ArchiveClassesAtExit`), into `build/cds/`, named by a key of the JDK, PyFlink
and the gateway's jars, so a new JDK or PyFlink builds a new one and never reads an old
one. `use_archive` adds the flag to `JVM_ARGS`, which PyFlink's gateway launcher passes to
`java`, when the archive exists and `FRAUD_CDS` is not `0`.

The JVM checks the archive itself: one made for another JDK or for a class path that is
not a prefix of the JVM's own is not mapped, and the JVM runs as without it (its warning
is turned off: nothing to act on, the run is only slower). The archive is built with the
metrics reporter off, so its class path (PyFlink's jars) is a prefix of both kinds of run;
the reporter jar, when on, comes after them (`flink_env.create_environments`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .config import PROJECT_ROOT

CDS_DIR = PROJECT_ROOT / "build" / "cds"
#: `FRAUD_CDS=0` starts the JVM without the archive.
ENV_SWITCH = "FRAUD_CDS"
#: The JVM's own warning when it cannot map an archive (another JDK, another class path).
_QUIET = "-Xlog:cds=off,cds+dynamic=off"
#: Records of the bundled sample the archive's job reads: enough to run every operator.
_DUMP_RECORDS = 3_000
_SAMPLE = PROJECT_ROOT / "datasets" / "sample_transactions.csv"
_PID_PREFIX = "CDS-JVM-PID="


def java_executable() -> Path | None:
    """The `java` PyFlink's gateway launcher starts (its own lookup: `env.java.home`,
    $JAVA_HOME, else PATH), or None if there is none."""
    from pyflink.pyflink_gateway_server import find_java_executable

    found = shutil.which(find_java_executable())
    return Path(found).resolve() if found else None


def archive_path() -> Path | None:
    """Where the archive for this JDK, PyFlink and gateway class path is (or would be);
    None without a `java`."""
    import pyflink

    java = java_executable()
    if java is None:
        return None
    home = Path(pyflink.__file__).parent
    jars = sorted(home.glob("lib/*.jar")) + sorted(home.glob("opt/flink-python*.jar"))
    digest = hashlib.sha256()
    for path in (java, *jars):
        st = path.stat()
        digest.update(f"{path}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return CDS_DIR / f"flink-{digest.hexdigest()[:16]}.jsa"


def _usable_archive() -> tuple[Path | None, str]:
    """The archive a JVM started now would map, or None and why not."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return None, f"{ENV_SWITCH}=0"
    path = archive_path()
    if path is None:
        return None, "no java"
    return (path, "") if path.is_file() else (None, "not built")


def jvm_args() -> list[str]:
    """The JVM flags that map the archive; none when it is missing or switched off."""
    path, _ = _usable_archive()
    return [f"-XX:SharedArchiveFile={path}", _QUIET] if path else []


def use_archive() -> None:
    """Add the archive's flags to `JVM_ARGS`, once; call before the JVM starts."""
    args = jvm_args()
    existing = os.environ.get("JVM_ARGS", "").split()
    if args and args[0] not in existing:
        os.environ["JVM_ARGS"] = " ".join([*existing, *args])


def status() -> str:
    """One line for run headers and the benchmark's settings."""
    path, why_not = _usable_archive()
    return str(path.relative_to(PROJECT_ROOT)) if path else f"off ({why_not})"


def ensure_archive(force: bool = False, timeout_s: float = 300.0) -> str:
    """Build the archive if it is missing (or `force`): run a small job with
    `-XX:ArchiveClassesAtExit` in a child process, wait for its JVM to write the archive on
    exit, then move it into place. Failing is not an error: the job runs without it."""
    path = archive_path()
    if path is None:
        return "no java on PATH or JAVA_HOME: no class-data archive"
    if path.is_file() and not force:
        return f"class-data archive up to date ({path.relative_to(PROJECT_ROOT)})"
    CDS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cds-", dir=CDS_DIR) as tmp:
        staging = Path(tmp) / "archive.jsa"
        env = {
            **os.environ,
            ENV_SWITCH: "0",
            "JVM_ARGS": f"-XX:ArchiveClassesAtExit={staging} {_QUIET}",
        }
        cmd = [sys.executable, "-m", "pipeline.class_sharing", "--dump-job", tmp]
        done = subprocess.run(
            cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout_s
        )
        pids = [
            int(line[len(_PID_PREFIX) :])
            for line in done.stdout.splitlines()
            if line.startswith(_PID_PREFIX)
        ]
        if done.returncode != 0 or not pids:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            return f"class-data archive not built (the job runs without it):\n{tail}"
        # The JVM outlives its Python parent by the time it takes to write the archive.
        deadline = time.monotonic() + timeout_s
        while Path(f"/proc/{pids[0]}").exists():
            if time.monotonic() > deadline:
                return "class-data archive not built: its JVM did not exit (runs go without)"
            time.sleep(0.2)
        if not staging.is_file() or staging.stat().st_size == 0:
            return "class-data archive not built: the JVM wrote none (the job runs without it)"
        for old in CDS_DIR.glob("flink-*.jsa"):
            old.unlink()
        staging.rename(path)
    size_mb, took = path.stat().st_size / 2**20, time.perf_counter() - started
    name = path.relative_to(PROJECT_ROOT)
    return f"built the class-data archive {name} ({size_mb:.0f} MB, {took:.0f} s)"


def _dump_job(folder: Path) -> None:
    """The archive's job: the pipeline on the sample's first records, outputs in `folder`."""
    from pyflink.java_gateway import get_gateway

    from .config import load_config
    from .run import run_job

    source = folder / "sample.csv"
    with open(_SAMPLE, encoding="utf-8") as src, open(source, "w", encoding="utf-8") as dst:
        for n, line in enumerate(src):
            if n > _DUMP_RECORDS:
                break
            dst.write(line)
    cfg = load_config(
        {
            "source.kind": "file",
            "source.format": "csv",
            "source.path": str(source),
            "sink.kind": "local",
            "sink.output_dir": str(folder / "out"),
            "flink.checkpoint_dir": str(folder / "checkpoints"),
            "flink.log_dir": str(folder / "logs"),
            "metrics.prometheus_ports": "",
        }
    )
    result = run_job(cfg)
    if not result.summary.accounted:
        raise SystemExit("the archive's job did not account for its records")
    pid = get_gateway().jvm.java.lang.ProcessHandle.current().pid()
    print(f"{_PID_PREFIX}{pid}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--dump-job"]:
        _dump_job(Path(sys.argv[2]))
    else:
        print(ensure_archive(force="--force" in sys.argv[1:]))
