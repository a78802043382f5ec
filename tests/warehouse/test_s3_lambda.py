"""The loader on an S3 lake (moto on 127.0.0.1:5000) and as a Lambda handler for S3 events."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from pipeline import stack
from pipeline.warehouse import lambda_handler
from pipeline.warehouse.lake import S3Lake
from pipeline.warehouse.loader import Loader
from tests.warehouse.lakefiles import (
    alert,
    alerts_file,
    flink_leftovers,
    parquet_rows,
    processed_files,
)

pytestmark = pytest.mark.stack


@pytest.fixture
def s3_lake(warehouse, tmp_path):
    """The test's local lake files uploaded under a fresh prefix of the stack's bucket."""
    prefix = f"wh-test-{uuid.uuid4().hex[:10]}"
    cfg = dataclasses.replace(warehouse, lake_root=f"s3://{stack.S3_BUCKET}/{prefix}")
    client = stack.aws_client("s3")
    yield cfg, client, prefix
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=stack.S3_BUCKET, Prefix=prefix)
    for page in pages:
        for item in page.get("Contents", []):
            client.delete_object(Bucket=stack.S3_BUCKET, Key=item["Key"])


def upload(client, prefix: str, root: Path, path: Path) -> str:
    key = f"{prefix}/{path.relative_to(root).as_posix()}"
    client.put_object(Bucket=stack.S3_BUCKET, Key=key, Body=path.read_bytes())
    return key


def s3_event(key: str, etag: str, size: int, name: str = "ObjectCreated:Put") -> dict:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": name,
                "s3": {
                    "bucket": {"name": stack.S3_BUCKET},
                    "object": {"key": quote_plus(key, safe="/"), "eTag": etag, "size": size},
                },
            }
        ]
    }


def test_s3_lake_loads_committed_objects_once(s3_lake, tmp_path, sql):
    cfg, client, prefix = s3_lake
    root = tmp_path / "files"
    files = processed_files(root, rows=2000, hours=2, seed=21)
    leftovers = flink_leftovers(root)
    alerts = alerts_file(root, "alerts-s3-0.jsonl", [alert(i) for i in range(9)])
    for p in [*files, *leftovers, alerts]:
        upload(client, prefix, root, p)

    report = Loader(cfg, S3Lake(cfg.lake_root, cfg.s3_endpoint_url)).run_once()

    assert report.count("loaded") == 3
    n = parquet_rows(files).num_rows
    assert sql("SELECT COUNT(*) FROM scored_transactions") == [(n,)]
    assert sql("SELECT COUNT(*) FROM alerts") == [(9,)]
    keys = [r[0] for r in sql("SELECT object_key FROM load_ledger ORDER BY 1")]
    assert all(k.startswith(f"s3://{stack.S3_BUCKET}/{prefix}/") for k in keys)
    assert Loader(cfg, S3Lake(cfg.lake_root, cfg.s3_endpoint_url)).run_once().results == []


def test_lambda_handler_loads_an_event_object_once_and_ignores_the_rest(
    s3_lake, tmp_path, sql, monkeypatch
):
    cfg, client, prefix = s3_lake
    root = tmp_path / "files"
    [f] = processed_files(root, rows=700, hours=1, seed=22)
    key = upload(client, prefix, root, f)
    head = client.head_object(Bucket=stack.S3_BUCKET, Key=key)
    event = s3_event(key, head["ETag"].strip('"'), head["ContentLength"])
    # the handler builds its loader from the FRAUD_* environment, as on Lambda: the lake
    # from [sink], the warehouse from [warehouse]
    monkeypatch.setenv("FRAUD_WAREHOUSE_SCHEMA", cfg.schema)
    monkeypatch.setenv("FRAUD_SINK_KIND", "s3")
    monkeypatch.setenv("FRAUD_SINK_S3_ROOT", cfg.lake_root)
    monkeypatch.setattr(lambda_handler, "_loader", None)

    first = lambda_handler.handler(event, None)
    again = lambda_handler.handler(event, None)  # S3 delivers events at least once

    assert first == {"loaded": 1, "quarantined": 0, "skipped": 0, "ignored": 0}
    assert again["skipped"] == 1 and again["loaded"] == 0
    assert sql("SELECT COUNT(*) FROM scored_transactions") == [(700,)]

    pending = f"{prefix}/processed/event_date=2026-03-02/hour=17/.part-1.inprogress.ab"
    marker = f"{prefix}/processed/event_date=2026-03-02/hour=17/_SUCCESS"
    for k in (pending, marker):
        client.put_object(Bucket=stack.S3_BUCKET, Key=k, Body=b"x")
    ignored = lambda_handler.handler(
        {
            "Records": [
                *s3_event(pending, "e1", 1)["Records"],
                *s3_event(marker, "e2", 1)["Records"],
                *s3_event(key, "e3", 1, name="ObjectRemoved:Delete")["Records"],
            ]
        },
        None,
    )
    assert ignored["ignored"] == 3
    lambda_handler._loader.close()


def test_corrupt_s3_object_is_copied_to_quarantine(s3_lake, tmp_path, sql):
    cfg, client, prefix = s3_lake
    bad_key = f"{prefix}/processed/event_date=2026-03-02/hour=17/part-bad-0-0"
    client.put_object(Bucket=stack.S3_BUCKET, Key=bad_key, Body=b"not parquet at all")
    report = Loader(cfg, S3Lake(cfg.lake_root, cfg.s3_endpoint_url)).run_once()
    assert report.count("quarantined") == 1
    [(copy, error)] = sql("SELECT quarantined_to, error FROM load_ledger")
    assert "unreadable Parquet" in error
    # the warehouse's own prefix, not the job's quarantine/ (DLQ) zone
    q_key = f"{prefix}/warehouse-quarantine/processed/event_date=2026-03-02/hour=17/part-bad-0-0"
    assert copy == f"s3://{stack.S3_BUCKET}/{q_key}"
    assert (
        client.get_object(Bucket=stack.S3_BUCKET, Key=q_key)["Body"].read() == b"not parquet at all"
    )


def test_unreachable_s3_lake_is_retried_then_reported(warehouse):
    from pipeline.stack import free_port
    from pipeline.warehouse.connect import WarehouseUnavailable

    cfg = dataclasses.replace(warehouse, lake_root="s3://fraud-lake/x", retry_max_attempts=2)
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{free_port()}",  # nothing listens
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    lake = S3Lake(cfg.lake_root, client=client)
    with pytest.raises(WarehouseUnavailable, match="list the lake"):
        Loader(cfg, lake).run_once()
