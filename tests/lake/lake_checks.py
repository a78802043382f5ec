"""What every lake test checks: the zones a reader sees hold each record exactly once."""

from __future__ import annotations

import base64
import csv
import re
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.config import PipelineConfig
from pipeline.sinks import OutputPaths, lake_layout
from pipeline.summary import committed_files, processed_files, read_json_lines, read_processed

INGEST_DIR = re.compile(r"^ingest_date=(\d{4}-\d{2}-\d{2})$|^hour=(\d{2})$")


def source_lines(path: Path) -> list[bytes]:
    """The records of a line-oriented source file as bytes, without line ends."""
    data = path.read_bytes()
    return data[:-1].split(b"\n") if data.endswith(b"\n") else data.split(b"\n")


def malformed_lines(source: Path, labels: Path) -> list[bytes]:
    """The records the generator made malformed (labels' record_no counts data lines from 1;
    a CSV source's line 0 is the header)."""
    lines = source_lines(source)
    offset = 0 if lines and lines[0].startswith(b"tx_id,event_time,") else -1
    with open(labels, newline="") as f:
        return [
            lines[int(r["record_no"]) + offset]
            for r in csv.DictReader(f)
            if r["noise"] == "malformed"
        ]


def ingest_hours(started: datetime, ended: datetime) -> set[tuple[str, str]]:
    """The (ingest_date, hour) buckets a run between these UTC times may write."""
    hours, t = set(), started.replace(minute=0, second=0, microsecond=0)
    while t <= ended:
        hours.add((t.strftime("%Y-%m-%d"), t.strftime("%H")))
        t += timedelta(hours=1)
    return hours


def raw_zone_lines(paths: OutputPaths, started: datetime, ended: datetime) -> list[bytes]:
    """Every record line of the raw zone's committed files, checking each file sits in an
    ingest_date=…/hour=… folder of the run's time span."""
    files = committed_files(paths.raw, ".txt")
    allowed = ingest_hours(started, ended)
    lines: list[bytes] = []
    for f in files:
        rel = f.relative_to(paths.raw).parts
        assert len(rel) == 3 and rel[0].startswith("ingest_date=") and rel[1].startswith("hour="), f
        bucket = (rel[0].split("=", 1)[1], rel[1].split("=", 1)[1])
        assert bucket in allowed, f"{f}: ingest bucket {bucket} outside the run {allowed}"
        data = f.read_bytes()
        assert data.endswith(b"\n"), f"{f} ends mid-record"
        lines.extend(data[:-1].split(b"\n"))
    return lines


def quarantined_originals(paths: OutputPaths) -> list[bytes]:
    for f in committed_files(paths.dlq, ".jsonl"):
        rel = f.relative_to(paths.dlq).parts
        assert rel[0].startswith("ingest_date=") and rel[1].startswith("hour="), f
    return [base64.b64decode(r["original"]) for r in read_json_lines(paths.dlq)]


def processed_tx_ids(paths: OutputPaths) -> list[str]:
    table = read_processed(paths.processed, ["tx_id"])
    return [] if table is None else table.column("tx_id").to_pylist()


def files_per_partition(paths: OutputPaths) -> Counter:
    """Committed Parquet files per (event_date, hour) folder of the processed zone."""
    return Counter((f.parent.parent.name, f.parent.name) for f in processed_files(paths.processed))


def hidden_files(root: Path) -> list[Path]:
    """Files a reader must skip: in-progress, pending or compaction inputs ('.' names)."""
    return [p for p in root.rglob(".*") if p.is_file()]


def visible_lake(cfg: PipelineConfig, into: Path | None = None) -> OutputPaths:
    """What a reader of the configured lake sees, as local paths: the lake folder itself,
    or (S3) a fresh download of the visible objects."""
    layout = lake_layout(cfg)
    prefixes = (layout.raw_prefix, layout.processed_prefix, layout.quarantine_prefix)
    if not layout.is_s3:
        return OutputPaths(Path(layout.root), *prefixes)
    from pipeline.lake import S3Location, mirror_visible, s3_client

    dest = into or Path(tempfile.mkdtemp(prefix="lake-mirror-"))
    mirror_visible(s3_client(cfg), S3Location.parse(layout.root), dest)
    return OutputPaths(dest, *prefixes)


def utc_now() -> datetime:
    return datetime.now(UTC)
