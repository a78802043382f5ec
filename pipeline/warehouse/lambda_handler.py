"""AWS Lambda entry point: load the objects of S3 ObjectCreated events into the warehouse.

Handler: `pipeline.warehouse.lambda_handler.handler`. Same Loader (ledger, transaction,
quarantine) as the daemon; configuration from the FRAUD_* environment: the lake from
[sink] (FRAUD_SINK_KIND=s3, FRAUD_SINK_S3_ROOT = s3://<bucket>[/prefix], FRAUD_SINK_S3_ENDPOINT
"" on AWS), the warehouse from FRAUD_WAREHOUSE_* (kind = redshift, iam_role, host …).
Only committed objects under the processed / alerts prefixes are loaded; in-progress or
pending part files, markers and other prefixes are ignored. A warehouse that stays down
for `warehouse.retry_max_attempts` makes the invocation fail, so Lambda retries the event
(and its on-failure destination keeps it); the daemon's listing is the safety net, since
nothing is recorded in the ledger until the rows are committed.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote_plus

from pipeline.config import load_config
from pipeline.warehouse.lake import S3Lake, is_committed, open_lake
from pipeline.warehouse.loader import Loader

log = logging.getLogger(__name__)
_loader: Loader | None = None  # reused across warm invocations (keeps the connection)


def _get_loader() -> Loader:
    global _loader
    if _loader is None:
        cfg = load_config().warehouse
        lake = open_lake(cfg)
        if not isinstance(lake, S3Lake):
            raise ValueError(
                f"the Lambda loader needs an S3 lake (sink.kind = s3), not {lake.root}"
            )
        _loader = Loader(cfg, lake)
    return _loader


def handler(event: dict[str, Any], context: Any = None, loader: Loader | None = None) -> dict:
    """Load each created object of an S3 event notification; returns per-status counts."""
    loader = loader or _get_loader()
    lake = loader.lake
    counts = {"loaded": 0, "quarantined": 0, "skipped": 0, "ignored": 0}
    for record in event.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            counts["ignored"] += 1
            continue
        s3 = record["s3"]
        if s3["bucket"]["name"] != lake.bucket:
            counts["ignored"] += 1
            continue
        key = unquote_plus(s3["object"]["key"])  # event keys are URL-encoded
        obj = lake.object_from_event(key, s3["object"].get("eTag", ""), s3["object"]["size"])
        if obj is None or not is_committed(obj.key) or loader.target_of(obj) is None:
            counts["ignored"] += 1
            continue
        result = loader.load(obj)
        counts[result.status] += 1
    log.info("s3 event: %s", counts)
    return counts
