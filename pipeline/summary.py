"""Reads a finished run's outputs back and summarises them (what `run` prints at the end).

Counts come from the committed output files, not from the job's memory: the summary is
also a check that nothing was lost (read = processed + invalid + duplicates).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow.dataset as ds

from .sinks import OutputPaths

SCORE_BUCKETS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.97, 1.0000001)


@dataclass
class RunSummary:
    events_read: int
    valid: int
    invalid_by_reason: Counter
    duplicates_dropped: int
    alerts_by_rule: Counter
    alerts_by_severity: Counter
    alerts_total: int
    score_histogram: list[tuple[str, int]]
    score_percentiles: dict[str, float]
    outputs: dict[str, Path]
    files: dict[str, int] = field(default_factory=dict)

    @property
    def invalid(self) -> int:
        return sum(self.invalid_by_reason.values())

    @property
    def accounted(self) -> bool:
        return self.events_read == self.valid + self.invalid + self.duplicates_dropped

    def render(self) -> str:
        lines = [
            "== fraud pipeline run summary ==",
            f"events read          {self.events_read:>10,}",
            f"valid (processed)    {self.valid:>10,}",
            f"invalid (DLQ)        {self.invalid:>10,}",
        ]
        lines += [f"  {r:<24}{n:>8,}" for r, n in sorted(self.invalid_by_reason.items())]
        lines.append(f"duplicates dropped   {self.duplicates_dropped:>10,}")
        status = "yes" if self.accounted else "NO — records are missing or doubled"
        lines.append(f"all records accounted for (read = valid + invalid + duplicates): {status}")
        lines.append(f"alerts               {self.alerts_total:>10,}")
        lines.append("  by rule:")
        lines += [f"    {r:<22}{n:>8,}" for r, n in self.alerts_by_rule.most_common()]
        lines.append("  by severity:")
        for sev in ("critical", "high", "medium", "low"):
            if self.alerts_by_severity.get(sev):
                lines.append(f"    {sev:<22}{self.alerts_by_severity[sev]:>8,}")
        lines.append("model score distribution:")
        lines += [f"  {label:<14}{n:>10,}" for label, n in self.score_histogram]
        lines.append(
            "  percentiles: " + ", ".join(f"{k}={v:.4f}" for k, v in self.score_percentiles.items())
        )
        lines.append("outputs:")
        for name, path in self.outputs.items():
            lines.append(f"  {name:<12}{path}  ({self.files.get(name, 0)} files)")
        return "\n".join(lines)


def committed_files(folder: Path, suffix: str) -> list[Path]:
    """Finished part files (Flink's in-progress/pending files are hidden: '.' prefix)."""
    if not folder.exists():
        return []
    return sorted(
        p
        for p in folder.rglob(f"*{suffix}")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.parts[-3:])
    )


def processed_files(folder: Path) -> list[Path]:
    """Committed Parquet part files of the processed zone (the filesystem connector names
    them part-<uuid>-<subtask>-<n>, without a suffix; compaction's output compacted-part-…)."""
    return [
        p for p in committed_files(folder, "") if p.name.startswith(("part-", "compacted-part-"))
    ]


def read_json_lines(folder: Path) -> list[dict]:
    rows = []
    for path in committed_files(folder, ".jsonl"):
        with open(path, "rb") as f:
            rows.extend(orjson.loads(line) for line in f if line.strip())
    return rows


def read_processed(folder: Path, columns: list[str] | None = None):
    """The processed zone as a pyarrow Table (partition columns included)."""
    files = processed_files(folder)
    if not files:
        return None
    dataset = ds.dataset([str(p) for p in files], format="parquet", partitioning="hive")
    return dataset.to_table(columns=columns)


def count_input_records(path: Path, fmt: str) -> int:
    """Records in a source file: lines, minus the CSV header."""
    with open(path, "rb") as f:
        n = sum(1 for _ in f)
    if fmt == "csv" and n:
        with open(path, "rb") as f:
            if f.readline().startswith(b"tx_id,event_time,"):
                n -= 1
    return n


def summarize(paths: OutputPaths, events_read: int) -> RunSummary:
    processed = read_processed(paths.processed, ["score"])
    scores = processed.column("score").to_numpy() if processed is not None else []
    hist = Counter()
    for lo, hi in itertools.pairwise(SCORE_BUCKETS):
        hist[(lo, hi)] = int(((scores >= lo) & (scores < hi)).sum()) if len(scores) else 0
    histogram = [
        (f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}", hist[(lo, hi)])
        for lo, hi in itertools.pairwise(SCORE_BUCKETS)
    ]
    percentiles = {}
    if len(scores):
        import numpy as np

        for q in (50, 90, 99, 99.9):
            percentiles[f"p{q:g}"] = float(np.percentile(scores, q))
    alerts = read_json_lines(paths.alerts)
    dlq = read_json_lines(paths.dlq)
    duplicates = read_json_lines(paths.duplicates)
    return RunSummary(
        events_read=events_read,
        valid=len(scores),
        invalid_by_reason=Counter(r["reason"] for r in dlq),
        duplicates_dropped=len(duplicates),
        alerts_by_rule=Counter(rule for a in alerts for rule in a["rule_ids"]),
        alerts_by_severity=Counter(a["severity"] for a in alerts),
        alerts_total=len(alerts),
        score_histogram=histogram,
        score_percentiles=percentiles,
        outputs=paths.all(),
        files={
            "raw": len(committed_files(paths.raw, ".txt")),
            "processed": len(processed_files(paths.processed)),
            "alerts": len(committed_files(paths.alerts, ".jsonl")),
            "dlq": len(committed_files(paths.dlq, ".jsonl")),
            "duplicates": len(committed_files(paths.duplicates, ".jsonl")),
        },
    )
