"""The job on the hostile-input corpus (datasets/hostile/), on the minicluster, once.

It must not crash; the DLQ holds exactly the declared reasons with exact counts, the
processed zone exactly the valid records (hostile-looking text verbatim), duplicates the
one exact resend; the warehouse loader stores the injection strings as data. The same run
is started with secrets in its environment; none of them may appear in anything it writes
(outputs, checkpoints, Flink's logs, stdout/stderr).
"""

from __future__ import annotations

import dataclasses
import sys
from collections import Counter
from pathlib import Path

import pytest

from datasets.hostile_corpus import CORPUS, SQL_INJECTION, read_manifest
from pipeline.sinks import OutputPaths
from pipeline.summary import read_json_lines, read_processed
from tests.jobs import run_checked
from tests.warehouse.conftest import sql, warehouse  # noqa: F401 (fixtures)

pytestmark = pytest.mark.minicluster

SECRETS = {
    "FRAUD_KAFKA_SASL_PASSWORD": "kafka-pw-Zq81-do-not-log",
    "FRAUD_KAFKA_SSL_KEY_PASSWORD": "ssl-key-pw-Yt53-do-not-log",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-Xr27-do-not-log",
    "AWS_SESSION_TOKEN": "aws-token-Wp44-do-not-log",
}


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile")
    settings = {
        "source.path": str(CORPUS),
        "source.format": "jsonl",
        "sink.output_dir": str(out / "lake"),
        "flink.checkpoint_dir": str(out / "checkpoints"),
        "flink.log_dir": str(out / "logs"),
        "flink.parallelism": "1",
        "flink.checkpoint_interval_ms": "2000",
        # the keyed path is under test; the SQL rules only read its valid rows
        "rules.enabled": "false",
        # SASL over TLS configured for Kafka: the secrets above are the ones it would use
        "security.kafka_protocol": "SASL_SSL",
        "security.kafka_sasl_mechanism": "SCRAM-SHA-512",
        "security.kafka_sasl_username": "fraud-pipeline",
    }
    args = [sys.executable, "-m", "pipeline", "run"]
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    proc = run_checked(args, env=SECRETS)
    return out, OutputPaths(out / "lake"), proc


def test_job_puts_each_hostile_record_where_its_manifest_says(corpus_run):
    _, paths, _ = corpus_run
    rows = read_manifest()
    dlq = read_json_lines(paths.dlq)
    processed = read_processed(paths.processed, ["tx_id", "wallet_id", "venue", "device_id"])
    duplicates = read_json_lines(paths.duplicates)

    want_dlq = Counter(r["expected"] for r in rows if r["expected"] not in ("valid", "duplicate"))
    assert Counter(r["reason"] for r in dlq) == want_dlq
    ids = processed.column("tx_id").to_pylist()
    assert sorted(ids) == sorted(r["tx_id"] for r in rows if r["expected"] == "valid")
    assert [d["tx_id"] for d in duplicates] == [
        r["tx_id"] for r in rows if r["expected"] == "duplicate"
    ]
    by_id = {r["tx_id"]: r for r in processed.to_pylist()}
    assert by_id["tx_hostile_002"]["venue"] == SQL_INJECTION
    assert by_id["tx_hostile_003"]["device_id"] == "1' OR '1'='1"
    assert by_id["tx_hostile_004"]["wallet_id"] == "w_4'; DELETE FROM x;--"
    assert by_id["tx_hostile_007"]["venue"] == "Börse 東京 🚀"


def _files(root: Path):
    for path in root.rglob("*"):
        if path.is_file():
            yield path


def test_no_secret_reaches_any_output_log_or_console(corpus_run):
    out, _, proc = corpus_run
    texts = {"stdout": proc.stdout.encode(), "stderr": proc.stderr.encode()}
    texts.update({str(p): p.read_bytes() for p in _files(out)})
    assert any("logs" in name for name in texts), "the run wrote no Flink log to search"

    leaks = [
        (name, env)
        for name, data in texts.items()
        for env, s in SECRETS.items()
        if s.encode() in data
    ]
    assert leaks == []


@pytest.mark.stack
def test_warehouse_stores_the_corpus_injection_strings_verbatim(corpus_run, warehouse, sql):  # noqa: F811
    from pipeline.warehouse.lake import LocalLake
    from pipeline.warehouse.loader import Loader

    _, paths, _ = corpus_run
    cfg = dataclasses.replace(warehouse, lake_root=str(paths.root))
    Loader(cfg, LocalLake(paths.root)).run_once()

    rows = sql(
        "SELECT tx_id, wallet_id, counterparty_wallet, venue, device_id"
        " FROM scored_transactions WHERE tx_id = ANY(%s)",
        (["tx_hostile_002", "tx_hostile_003", "tx_hostile_004", "tx_hostile_005"],),
    )
    got = {r[0]: r[1:] for r in rows}
    assert got["tx_hostile_002"][2] == SQL_INJECTION
    assert got["tx_hostile_003"][3] == "1' OR '1'='1"
    assert got["tx_hostile_004"][0] == "w_4'; DELETE FROM x;--"
    assert got["tx_hostile_005"][1] == "'||pg_sleep(5)||'"
    valid = [r["tx_id"] for r in read_manifest() if r["expected"] == "valid"]
    assert sql("SELECT COUNT(*) FROM scored_transactions")[0][0] == len(valid)
