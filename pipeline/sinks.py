"""Sinks chosen by config. Locally: the filesystem lake (exactly-once via checkpoints)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyflink.common.serialization import Encoder
from pyflink.datastream.connectors.file_system import (
    BucketAssigner,
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)
from pyflink.table import StreamTableEnvironment

from .config import PipelineConfig
from .job import PipelineOutputs
from .schemas import processed_table_ddl


@dataclass(frozen=True)
class OutputPaths:
    """Where each output of a local run lands."""

    root: Path

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def alerts(self) -> Path:
        return self.root / "alerts"

    @property
    def dlq(self) -> Path:
        return self.root / "dlq"

    @property
    def duplicates(self) -> Path:
        return self.root / "duplicates"

    def all(self) -> dict[str, Path]:
        return {
            "processed": self.processed,
            "alerts": self.alerts,
            "dlq": self.dlq,
            "duplicates": self.duplicates,
        }


def output_paths(cfg: PipelineConfig) -> OutputPaths:
    if cfg.sink.kind != "local":
        raise ValueError(f"sink.kind {cfg.sink.kind!r} is not supported yet (local)")
    return OutputPaths(cfg.resolve(cfg.sink.output_dir))


def json_lines_sink(path: Path, prefix: str) -> FileSink:
    """Exactly-once JSON-lines files: part files become visible when a checkpoint completes."""
    return (
        FileSink.for_row_format(str(path), Encoder.simple_string_encoder())
        .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner())
        .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
        .with_output_file_config(
            OutputFileConfig.builder().with_part_prefix(prefix).with_part_suffix(".jsonl").build()
        )
        .build()
    )


def attach_sinks(
    t_env: StreamTableEnvironment, outputs: PipelineOutputs, paths: OutputPaths, cfg: PipelineConfig
) -> None:
    """Attach the lake sinks; the Table insert joins the DataStream job (one execute())."""
    for name, stream in (
        ("alerts", outputs.alerts),
        ("dlq", outputs.dlq),
        ("duplicates", outputs.duplicates),
    ):
        stream.sink_to(json_lines_sink(getattr(paths, name), name)).name(f"{name}-sink").uid(
            f"{name}-sink"
        )
    t_env.execute_sql(
        processed_table_ddl(
            "processed_zone", str(paths.processed), cfg.sink.processed_rolling_file_size_mb
        )
    )
    statements = t_env.create_statement_set()
    statements.add_insert("processed_zone", outputs.processed)
    statements.attach_as_datastream()
