"""Peak memory and CPU per thread of a benchmark's child processes, sampled from /proc.

The benchmark (`pipeline/bench.py`) runs the job in this process's JVM child (PyFlink's
gateway), which also hosts the thread-mode Python. Sampling `/proc/<pid>/task/*/stat`
gives each JVM thread's CPU time under its name, and Flink names a task's thread after its
operator chain ("wallet-risk (1/1)#0", "Source: transactions-file -> …"), so the CPU of
each stage of the job can be told apart. Linux keeps the first 15 bytes of a name.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: Thread-name prefixes (as Linux keeps them) and the stage of the job they run.
THREAD_STAGES = (
    ("wallet-risk", "wallet-risk: the keyed Python function"),
    ("Source: ", "source, key extraction, shard batcher, raw zone"),
    ("decode-process", "processed zone: row decoding, Parquet writer"),
    ("compact-operat", "processed zone: compaction, partition commit"),
    ("rules-", "SQL rules: table conversion, filters, UDF calls"),
    ("WindowAggregat", "SQL rules: windows"),
    ("GlobalGroupAgg", "SQL rules: aggregates"),
    ("C1 CompilerThr", "JIT compilers (mostly warm-up)"),
    ("C2 CompilerThr", "JIT compilers (mostly warm-up)"),
    ("GC Thread", "garbage collector"),
    ("G1 ", "garbage collector"),
)
OTHER_STAGE = "other: Flink runtime, py4j, job planning"


def stage_of(thread_name: str) -> str:
    """The job stage a JVM thread's (truncated) name belongs to."""
    for prefix, stage in THREAD_STAGES:
        if thread_name.startswith(prefix):
            return stage
    return OTHER_STAGE


def thread_cpu_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of each live thread of `pid`: tid -> (name, seconds)."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended between the listing and the read
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS)
    return out


class BackgroundSampler:
    """A context manager that calls `_sample()` on a daemon thread every `interval_s` while
    it is open (the first time at once), and once more on close."""

    def __init__(self, interval_s: float) -> None:
        self._stop = threading.Event()
        self._interval = interval_s
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def _sample(self) -> None:
        raise NotImplementedError


class ProcessSampler(BackgroundSampler):
    """Samples, until closed, the peak resident memory of this process's descendants by
    kind ("jvm", "python-worker") and the CPU time of every thread they ran.

    A thread's CPU is its last sample, so up to one interval of CPU of a thread that ends
    is missed; the JVM's task threads live until the job ends, and `__exit__` samples once
    more, while the JVM is still up.
    """

    def __init__(self, interval_s: float = 0.25) -> None:
        super().__init__(interval_s)
        self.peaks: dict[str, int] = {}
        self._threads: dict[tuple[int, int], tuple[str, str, float]] = {}

    def _sample(self) -> None:
        for pid, kind in _descendants(os.getpid()):
            rss = _rss_bytes(pid)
            if rss and rss > self.peaks.get(kind, 0):
                self.peaks[kind] = rss
            for tid, (name, cpu) in thread_cpu_seconds(pid).items():
                self._threads[(pid, tid)] = (kind, name, cpu)

    def cpu_by_stage(self) -> dict[str, float]:
        """CPU seconds per job stage (JVM threads) and of all Python worker processes."""
        stages: Counter[str] = Counter()
        for kind, name, cpu in self._threads.values():
            stages["Python worker processes" if kind != "jvm" else stage_of(name)] += cpu
        return dict(stages)


def _descendants(root: int) -> list[tuple[int, str]]:
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as f:
                names[int(entry)] = f.read().strip()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    out, stack = [], list(children.get(root, []))
    while stack:
        pid = stack.pop()
        name = names.get(pid, "")
        if name == "java":
            out.append((pid, "jvm"))
        elif name.startswith("python") and "pyflink" in _cmdline(pid):
            out.append((pid, "python-worker"))
        stack.extend(children.get(pid, []))
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def self_cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used so far, all its threads."""
    t = os.times()
    return t.user + t.system


def self_peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
