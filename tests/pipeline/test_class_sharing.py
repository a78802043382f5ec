"""The JVM's class-data archive (pipeline/class_sharing.py): built by set-up, mapped by
every local job's JVM, never used when switched off or made for another JDK."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pipeline import class_sharing
from pipeline.config import PROJECT_ROOT

# A child process (one gateway JVM per process): start the job's environments as every
# local run does, then ask the JVM for its pid and read which files it mapped.
_MAPPED = textwrap.dedent(
    """
    from pipeline.config import load_config
    from pipeline.flink_env import create_environments
    from pyflink.java_gateway import get_gateway

    create_environments(load_config())
    pid = get_gateway().jvm.java.lang.ProcessHandle.current().pid()
    with open(f"/proc/{pid}/maps") as maps:
        print("MAPPED:" + ",".join(sorted({l.split()[-1] for l in maps if l.endswith(".jsa\\n")})))
    """
)


def _mapped_archives(env: dict[str, str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _MAPPED],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("MAPPED:"))
    return set(filter(None, line[len("MAPPED:") :].split(",")))


@pytest.mark.minicluster
def test_the_jobs_jvm_maps_the_archive_set_up_built():
    message = class_sharing.ensure_archive()  # `make setup` built it; builds it if not
    archive = class_sharing.archive_path()
    assert archive is not None and archive.is_file(), message
    env = {k: v for k, v in os.environ.items() if k not in ("JVM_ARGS", class_sharing.ENV_SWITCH)}
    assert str(archive) in _mapped_archives(env)
    # Switched off: the JVM maps only the JDK's own archive.
    assert str(archive) not in _mapped_archives(env | {class_sharing.ENV_SWITCH: "0"})


def test_switched_off_or_missing_gives_no_flags(monkeypatch, tmp_path):
    monkeypatch.setattr(class_sharing, "CDS_DIR", tmp_path)
    monkeypatch.delenv(class_sharing.ENV_SWITCH, raising=False)
    assert class_sharing.jvm_args() == []
    assert class_sharing.status() == "off (not built)"
    archive = class_sharing.archive_path()
    archive.write_bytes(b"an archive")
    flags = class_sharing.jvm_args()
    assert flags[0] == f"-XX:SharedArchiveFile={archive}"
    monkeypatch.setenv("JVM_ARGS", "-Xss2m")
    class_sharing.use_archive()
    class_sharing.use_archive()  # once only
    assert os.environ["JVM_ARGS"].split() == ["-Xss2m", *flags]
    monkeypatch.setenv(class_sharing.ENV_SWITCH, "0")
    assert class_sharing.jvm_args() == []
    assert class_sharing.status() == f"off ({class_sharing.ENV_SWITCH}=0)"


def test_another_jdk_gets_another_archive(monkeypatch, tmp_path):
    ours = class_sharing.archive_path()
    fake_java = tmp_path / "bin" / "java"
    fake_java.parent.mkdir()
    fake_java.write_text("#!/bin/sh\n")
    fake_java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    theirs = class_sharing.archive_path()
    assert theirs is not None and ours is not None
    assert theirs != ours and theirs.parent == ours.parent
