"""The lake the loader reads: a local folder (the job's output) or an S3 bucket (moto/AWS).

Only committed objects are offered. Flink's FileSink keeps in-progress and pending part
files hidden (a leading '.' and '.inprogress' in the name) until the checkpoint that
publishes them completes; the filesystem table sink stages under '.staging_*' folders and
writes '_SUCCESS' markers. Any path segment starting with '.' or '_' is skipped.
An object's version is its S3 ETag, or the MD5 of a local file's content (what a
single-part S3 upload's ETag is): the ledger key is (uri, version).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.config import WarehouseConfig


@dataclass(frozen=True)
class LakeObject:
    uri: str  # s3://bucket/key or the local file's absolute path
    key: str  # path below the lake root, '/'-separated (processed/event_date=…/part-…)
    etag: str
    size: int


def is_committed(key: str) -> bool:
    """False for in-progress / pending / staging files and markers (see module doc)."""
    parts = [p for p in key.split("/") if p]
    if not parts or ".inprogress" in parts[-1]:
        return False
    return not any(p.startswith((".", "_")) for p in parts)


class Lake(Protocol):
    root: str

    def list(self, prefix: str) -> Iterator[LakeObject]: ...

    def read(self, obj: LakeObject) -> bytes | str:
        """The object's bytes, or a local path pyarrow can memory-map."""
        ...

    def copy_to(self, obj: LakeObject, key: str) -> str:
        """Copy the object to `key` below the root; returns the copy's URI."""
        ...

    def put(self, key: str, body: bytes) -> str: ...


class LocalLake:
    def __init__(self, root: Path):
        self.root = str(root)
        self._root = root
        self._md5: dict[tuple[str, int, int], str] = {}

    def _etag(self, path: Path, st: os.stat_result) -> str:
        cache_key = (str(path), st.st_size, st.st_mtime_ns)
        if cache_key not in self._md5:
            h = hashlib.md5(usedforsecurity=False)
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            self._md5[cache_key] = h.hexdigest()
        return self._md5[cache_key]

    def object(self, path: Path) -> LakeObject:
        st = path.stat()
        key = path.relative_to(self._root).as_posix()
        return LakeObject(str(path.resolve()), key, self._etag(path, st), st.st_size)

    def list(self, prefix: str) -> Iterator[LakeObject]:
        base = self._root / prefix
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                key = path.relative_to(self._root).as_posix()
                if is_committed(key):
                    yield self.object(path)

    def read(self, obj: LakeObject) -> str:
        return obj.uri

    def copy_to(self, obj: LakeObject, key: str) -> str:
        dest = self._root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(obj.uri, dest)
        return str(dest.resolve())

    def put(self, key: str, body: bytes) -> str:
        dest = self._root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(body)
        return str(dest.resolve())


class S3Lake:
    def __init__(self, root: str, endpoint_url: str = "", client=None, path_style: bool = False):
        if not root.startswith("s3://"):
            raise ValueError(f"not an s3:// lake root: {root!r}")
        bucket, _, prefix = root[len("s3://") :].partition("/")
        self.root = root
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if client is None:
            import boto3
            from botocore.config import Config

            style = "path" if path_style else "auto"
            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url or None,
                config=Config(s3={"addressing_style": style}),
            )
        self.client = client

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def object_from_event(self, full_key: str, etag: str, size: int) -> LakeObject | None:
        """The LakeObject of an S3 event's key, or None when it lies outside this lake."""
        if not full_key.startswith(self.prefix):
            return None
        key = full_key[len(self.prefix) :]
        if not etag:  # not every event source carries it
            etag = self.client.head_object(Bucket=self.bucket, Key=full_key)["ETag"]
        return LakeObject(self.uri(key), key, etag.strip('"'), size)

    def list(self, prefix: str) -> Iterator[LakeObject]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                if is_committed(key):
                    yield LakeObject(self.uri(key), key, item["ETag"].strip('"'), item["Size"])

    def read(self, obj: LakeObject) -> bytes:
        from botocore.exceptions import ClientError

        from pipeline.warehouse.methods import ObjectGone

        try:
            resp = self.client.get_object(
                Bucket=self.bucket, Key=self.prefix + obj.key, IfMatch=f'"{obj.etag}"'
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "PreconditionFailed", "404", "412"):
                raise ObjectGone(f"{obj.uri} (ETag {obj.etag}): {code}") from exc
            raise
        return resp["Body"].read()

    def copy_to(self, obj: LakeObject, key: str) -> str:
        self.client.copy_object(
            Bucket=self.bucket,
            Key=self.prefix + key,
            CopySource={"Bucket": self.bucket, "Key": self.prefix + obj.key},
        )
        return self.uri(key)

    def put(self, key: str, body: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body)
        return self.uri(key)


def open_lake(wcfg: WarehouseConfig) -> Lake:
    """The job's lake as [sink] describes it (`lake_root`, endpoint and path style come from
    there; see config.lake_facts). Relative folders resolve from the project root."""
    if wcfg.lake_root.startswith("s3://"):
        return S3Lake(wcfg.lake_root, wcfg.s3_endpoint_url, path_style=wcfg.s3_path_style)
    root = Path(wcfg.lake_root)
    if not root.is_absolute():
        from pipeline.config import PROJECT_ROOT

        root = PROJECT_ROOT / root
    return LocalLake(root)
