"""The job's data-lake zones (raw, processed, quarantine) on the local filesystem and on S3
(moto via the flink-s3-fs-hadoop plugin): each record exactly once, in its partition, and
the processed zone compacted to one file per partition and checkpoint."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from pipeline.components import Components
from pipeline.config import load_config
from pipeline.offline import iter_records, replay
from tests.jobs import run_job
from tests.lake.lake_checks import (
    files_per_partition,
    hidden_files,
    malformed_lines,
    processed_tx_ids,
    quarantined_originals,
    raw_zone_lines,
    source_lines,
    utc_now,
)

pytestmark = pytest.mark.minicluster

# One checkpoint per run (the final one at the end of the bounded input): the file counts
# are then exact, whatever the machine's speed.
ONE_CHECKPOINT = {"flink.checkpoint_interval_ms": "600000"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """2,000 generated CSV records (with malformed ones), labels, wallets, offline replay."""
    from datasets.generator import Config, generate_files

    d = tmp_path_factory.mktemp("lake-data")
    source, labels, wallets = d / "tx.csv", d / "labels.csv", d / "wallets.csv"
    generate_files(Config(events=2_000, seed=17, fmt="csv"), source, labels, wallets)
    # The lake, not the SQL rules, is under test (their process-mode workers are slow to
    # start here; tests/rules covers them).
    overrides = {"reference.wallets_file": str(wallets), "rules.enabled": "false"}
    offline = replay(iter_records(source), Components(load_config(overrides)))
    valid = sorted(s.view.event.tx.tx_id for s in offline.scored)
    return {"source": source, "labels": labels, "overrides": overrides, "valid": valid}


def _run(tmp_path: Path, dataset, parallelism: int, **overrides: str):
    started = utc_now()
    paths = run_job(
        tmp_path,
        dataset["source"],
        parallelism,
        **dataset["overrides"],
        **ONE_CHECKPOINT,
        **overrides,
    )
    return paths, started, utc_now()


def _assert_zones(paths, dataset, started, ended) -> None:
    # Raw: every record byte for byte (the CSV header is a record of the file too), once.
    assert Counter(raw_zone_lines(paths, started, ended)) == Counter(
        source_lines(dataset["source"])
    )
    # Quarantine: exactly the malformed records, as received.
    assert Counter(quarantined_originals(paths)) == Counter(
        malformed_lines(dataset["source"], dataset["labels"])
    )
    # Processed: every valid transaction once.
    assert sorted(processed_tx_ids(paths)) == dataset["valid"]


def _dictionary_encoded_columns(paths) -> set[str]:
    """Columns of the processed Parquet files with a dictionary-encoded chunk."""
    import pyarrow.parquet as pq

    found = set()
    for f in paths.processed.rglob("*part-*"):
        if f.name.startswith("."):
            continue
        meta = pq.ParquetFile(f).metadata
        for g in range(meta.num_row_groups):
            for c in range(meta.num_columns):
                chunk = meta.row_group(g).column(c)
                if any("DICTIONARY" in e for e in chunk.encodings):
                    found.add(chunk.path_in_schema)
    return found


def test_local_lake_zones_hold_each_record_once_and_compact_per_partition(tmp_path, dataset):
    paths, started, ended = _run(tmp_path, dataset, 2)
    _assert_zones(paths, dataset, started, ended)
    # sink.processed_parquet_dictionary defaults to off: plain-encoded columns only.
    assert _dictionary_encoded_columns(paths) == set()
    per_partition = files_per_partition(paths)
    assert per_partition and set(per_partition.values()) == {1}, per_partition
    assert all(
        p.name.startswith("compacted-part-")
        for p in paths.processed.rglob("*part-*")
        if not p.name.startswith(".")
    ), "an uncompacted file is visible"
    assert hidden_files(paths.root) == [], "in-progress or compaction files left behind"


def test_without_compaction_each_subtask_writes_its_own_file_per_partition(tmp_path, dataset):
    paths, _, _ = _run(
        tmp_path,
        dataset,
        2,
        **{"sink.processed_auto_compaction": "false", "sink.processed_parquet_dictionary": "true"},
    )
    assert sorted(processed_tx_ids(paths)) == dataset["valid"]
    # With the dictionary on, the repetitive columns are dictionary-encoded.
    assert {"tx_type", "asset", "model_version"} <= _dictionary_encoded_columns(paths)
    per_partition = files_per_partition(paths)
    # Two subtasks, one checkpoint: up to two files per partition, and more files than
    # partitions overall (the flood compaction removes).
    assert max(per_partition.values()) == 2 and sum(per_partition.values()) > len(per_partition)


@pytest.mark.stack
def test_s3_lake_zones_hold_each_record_once_and_publish_only_complete_objects(
    local_stack, tmp_path, dataset
):
    from pipeline.lake import S3Location, clear, list_objects, s3_client

    root = f"s3://fraud-lake/test-lake-{uuid.uuid4().hex[:8]}"
    overrides = {"sink.kind": "s3", "sink.s3_root": root}
    client, where = s3_client(load_config(overrides)), S3Location.parse(root)
    try:
        # `run` mirrors the bucket's visible objects into tmp_path/lake and summarises them.
        paths, started, ended = _run(tmp_path, dataset, 2, **overrides)
        _assert_zones(paths, dataset, started, ended)
        assert set(files_per_partition(paths).values()) == {1}

        keys = [o["Key"][len(where.prefix) :] for o in list_objects(client, where)]
        assert any(k.startswith("raw/ingest_date=") for k in keys), keys[:5]
        assert any(k.startswith("quarantine/ingest_date=") for k in keys), keys[:5]
        data = [k for k in keys if k.startswith("processed/") and not k.endswith("/_SUCCESS")]
        assert data and all(k.split("/")[-1].startswith("compacted-part-") for k in data), data
        # Nothing unfinished is left: no open multipart upload, no part objects.
        uploads = client.list_multipart_uploads(Bucket=where.bucket, Prefix=where.prefix)
        assert uploads.get("Uploads", []) == []
        assert [k for k in keys if "/." in "/" + k or "_tmp_" in k] == []
    finally:
        clear(client, where)
