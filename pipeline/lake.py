"""Reading and clearing the lake on S3 from Python (boto3): what `run` summarises and what
tests inspect. The job itself writes through Flink's S3 filesystem plugin, not through here.

Credentials come from the environment or the AWS default chain (never from config files);
the endpoint and path-style access come from `[sink]`, as for the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .config import PipelineConfig


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # no leading '/', ends with '/' unless empty

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3://bucket/prefix URI: {uri!r}")
        prefix = parsed.path.lstrip("/")
        return cls(parsed.netloc, prefix + "/" if prefix and not prefix.endswith("/") else prefix)


def s3_client(cfg: PipelineConfig):
    import boto3
    from botocore.config import Config

    addressing = "path" if cfg.sink.s3_path_style_access else "auto"
    return boto3.client(
        "s3",
        endpoint_url=cfg.sink.s3_endpoint or None,
        config=Config(s3={"addressing_style": addressing}),
    )


def is_visible(key: str) -> bool:
    """A committed object a reader may use: no path part starts with '.' or '_'.

    Flink's S3 writer keeps unfinished data in multipart uploads (invisible until
    completed) and the tail of a checkpointed in-progress file in a `_<name>_tmp_…` object;
    compaction inputs start with '.'; `_SUCCESS` marks a partition.
    """
    return not any(part.startswith((".", "_")) for part in key.split("/"))


def list_objects(client, where: S3Location) -> list[dict]:
    """Every object under the location (key, size, ETag), all pages."""
    objects = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=where.bucket, Prefix=where.prefix
    ):
        objects.extend(page.get("Contents", []))
    return objects


def visible_objects(client, where: S3Location) -> list[dict]:
    return [o for o in list_objects(client, where) if is_visible(o["Key"])]


def mirror_visible(client, where: S3Location, dest: Path) -> int:
    """Download the visible objects under `where` into `dest` (same relative keys)."""
    n = 0
    for obj in visible_objects(client, where):
        target = dest / obj["Key"][len(where.prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(where.bucket, obj["Key"], str(target))
        n += 1
    return n


def clear(client, where: S3Location) -> int:
    """Delete every object and abort every unfinished multipart upload under `where`."""
    keys = [o["Key"] for o in list_objects(client, where)]
    for i in range(0, len(keys), 1000):
        client.delete_objects(
            Bucket=where.bucket,
            Delete={"Objects": [{"Key": k} for k in keys[i : i + 1000]], "Quiet": True},
        )
    uploads = client.list_multipart_uploads(Bucket=where.bucket, Prefix=where.prefix)
    for up in uploads.get("Uploads", []):
        client.abort_multipart_upload(Bucket=where.bucket, Key=up["Key"], UploadId=up["UploadId"])
    return len(keys)
