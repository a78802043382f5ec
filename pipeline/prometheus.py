"""Reading the Flink Prometheus reporter: scrape, parse, sum, and record samples over time.

The alarm evaluator (`pipeline/alarms.py`) and the dashboard (`pipeline/dashboard.py`) read
metrics only through this module. `python -m pipeline.prometheus record` appends one JSON
line per scrape (time + the pipeline's own and the connectors' metrics, summed over
subtasks) to `metrics.samples_file`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .metrics import PROMETHEUS_PREFIX

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

#: Labels that identify a subtask / attempt rather than what a sample measures.
_INSTANCE_LABELS = frozenset(
    {
        "job_id",
        "task_id",
        "task_attempt_id",
        "host",
        "operator_id",
        "task_attempt_num",
        "tm_id",
        "subtask_index",
        "task_name",
        "operator_name",
        "job_name",
    }
)

#: The connectors' backlog metrics kept next to the pipeline's own.
BACKLOG_METRICS = (
    "flink_taskmanager_job_task_operator_KafkaSourceReader_KafkaConsumer_records_lag_max",
    "flink_taskmanager_job_task_operator_pendingRecords",
)


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse(text: str) -> list[Sample]:
    """Samples of a Prometheus text exposition (comments and NaN values skipped)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            continue
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        if value != value:  # NaN
            continue
        labels = dict(_LABEL.findall(m.group(3) or ""))
        samples.append(Sample(m.group(1), labels, value))
    return samples


def scrape(url: str, timeout_s: float = 3.0) -> list[Sample]:
    """Scrape a Prometheus endpoint (e.g. http://127.0.0.1:9250/metrics)."""
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return parse(resp.read().decode("utf-8", "replace"))


def summarize(samples: Iterable[Sample], group: str) -> dict[str, float]:
    """The pipeline's metrics and the connectors' backlog, summed over subtasks.

    Keys are the Prometheus name without the operator prefix, plus the measuring labels,
    e.g. ``kinesisanalytics_invalid{reason=bad_amount}``; backlog metrics take the max.
    """
    own = PROMETHEUS_PREFIX + group + "_"
    out: dict[str, float] = {}
    for s in samples:
        if s.name.startswith(own):
            labels = ",".join(
                f"{k}={v}" for k, v in sorted(s.labels.items()) if k not in _INSTANCE_LABELS
            )
            key = s.name[len(PROMETHEUS_PREFIX) :] + (f"{{{labels}}}" if labels else "")
            out[key] = out.get(key, 0.0) + s.value
        elif s.name in BACKLOG_METRICS:
            key = s.name[len(PROMETHEUS_PREFIX) :]
            out[key] = max(out.get(key, 0.0), s.value)
    return out


def metric(summary: dict[str, float], group: str, name: str) -> float:
    """Sum of one pipeline metric over all its label values (0 when absent)."""
    base = f"{group}_{name}"
    return sum(v for k, v in summary.items() if k == base or k.startswith(base + "{"))


def labelled(summary: dict[str, float], group: str, name: str, label: str) -> dict[str, float]:
    """One labelled metric as {label value: value}, e.g. alerts per rule."""
    prefix = f"{group}_{label}_{name}{{"
    out = {}
    for k, v in summary.items():
        if k.startswith(prefix):
            for part in k[len(prefix) : -1].split(","):
                key, _, value = part.partition("=")
                if key == label:
                    out[value] = out.get(value, 0.0) + v
    return out


#: The Kinesis source's per-shard backlog gauge (`ShardLagGauges.java`), in the pipeline's
#: metric group with the key/value group `shard_id`.
KINESIS_LAG_METRIC = "millisBehindLatest"
KINESIS_SHARD_LABEL = "shard_id"


def kinesis_lag_by_shard(summary: dict[str, float], group: str) -> dict[str, float]:
    """The Kinesis source's millisBehindLatest per shard, from a `summarize` result."""
    return labelled(summary, group, KINESIS_LAG_METRIC, KINESIS_SHARD_LABEL)


def default_url(ports: str) -> str:
    """The scrape URL of the first port of a Flink port range."""
    first = ports.split(",")[0].split("-")[0].strip()
    return f"http://127.0.0.1:{first}/metrics"


def find_endpoints(ports: str, timeout_s: float = 1.0) -> list[str]:
    """Scrape URLs of every port of a range where a Flink reporter answers.

    A cluster's JobManager and each TaskManager take one port each (operator metrics live
    on the TaskManagers'); a minicluster takes one.
    """
    from .config import _port_range

    urls = []
    for port in sorted(_port_range(ports)):
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                if resp.status == 200:
                    urls.append(url)
        except OSError:
            continue
    return urls


def scrape_all(urls: Iterable[str]) -> list[Sample]:
    """The samples of every URL (one that fails to answer is skipped)."""
    samples: list[Sample] = []
    for url in urls:
        try:
            samples += scrape(url)
        except OSError:
            continue
    return samples


def record(
    url: str | None, ports: str, group: str, out: Path, interval_s: float, duration_s: float
) -> int:
    """Append one summary line per scrape to `out` for `duration_s` (0 = until Ctrl-C).

    Returns the number of lines written. A scrape that fails (job not started yet, or
    finished) is skipped; with no fixed `url` the port range is searched again.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    deadline = time.monotonic() + duration_s if duration_s else None
    with open(out, "a", encoding="utf-8") as f:
        while deadline is None or time.monotonic() < deadline:
            started = time.monotonic()
            urls = [url] if url else find_endpoints(ports)
            if urls:
                summary = summarize(scrape_all(urls), group)
                if summary:
                    line = {"ts_ms": time.time_ns() // 1_000_000, "metrics": summary}
                    f.write(json.dumps(line, sort_keys=True) + "\n")
                    f.flush()
                    written += 1
            time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
    return written


def read_samples(path: Path) -> list[dict]:
    """The recorded lines of `path` (oldest first); [] when the file does not exist."""
    if not path.is_file():
        return []
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut short by a killed recorder
    return lines


def main(argv: list[str] | None = None) -> int:
    from .config import load_config

    parser = argparse.ArgumentParser(prog="python -m pipeline.prometheus", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="append scraped samples to metrics.samples_file")
    rec.add_argument("--url", help="scrape URL (default: search metrics.prometheus_ports)")
    rec.add_argument("--ports", help="port range to search instead of metrics.prometheus_ports")
    rec.add_argument("--out", help="samples file (default metrics.samples_file)")
    rec.add_argument("--duration-s", type=float, default=0.0, help="0 = until interrupted")
    show = sub.add_parser("show", help="print the pipeline's metrics scraped once")
    show.add_argument("--url")
    show.add_argument("--ports")
    args = parser.parse_args(argv)
    cfg = load_config()
    ports = args.ports or cfg.metrics.prometheus_ports
    if args.command == "show":
        urls = [args.url] if args.url else find_endpoints(ports)
        if not urls:
            print(f"no Flink Prometheus reporter answers on 127.0.0.1:{ports}", file=sys.stderr)
            return 1
        for key, value in sorted(summarize(scrape_all(urls), cfg.metrics.group).items()):
            print(f"{key:<80} {value:,.0f}")
        return 0
    out = Path(args.out) if args.out else cfg.resolve(cfg.metrics.samples_file)
    try:
        n = record(
            args.url,
            ports,
            cfg.metrics.group,
            out,
            cfg.metrics.scrape_interval_ms / 1000,
            args.duration_s,
        )
    except KeyboardInterrupt:
        return 0
    print(f"{n} samples appended to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
