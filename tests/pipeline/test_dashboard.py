"""The HTML dashboard rendered by headless Chromium (Debian's `chromium`): every chart holds
the data marks written for it, the top-wallets table is filled, and a screenshot is taken.

The main test reads a real run: the job's metrics scraped while it runs, its lake loaded into
the warehouse (PostgreSQL of the local stack) by the real loader. The fallback tests build
lake files in the formats the job and the recorder write (alert JSON lines, a processed
Parquet part file, recorded scrape summaries), so the expected counts are known."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.dashboard import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
G = "kinesisanalytics"
PORTS = "9210-9219"  # apart from local runs (9250-9259), the cluster's and other tests'
T0 = 1_795_000_000_000


def _lake(root: Path) -> None:
    alerts = root / "alerts"
    alerts.mkdir(parents=True)
    rules = ["model_score", "peel_chain", "blocklist"]
    with open(alerts / "alerts-x-0.jsonl", "w") as f:
        for i in range(60):
            f.write(
                json.dumps(
                    {
                        "wallet_id": f"w_{i % 7:06d}",
                        "event_time": f"2026-03-0{1 + i % 5}T0{i % 10}:00:00.000Z",
                        "rule_ids": [rules[i % 3]],
                        "severity": "critical" if i % 2 else "high",
                        "score": (i % 10) / 10,
                    }
                )
                + "\n"
            )
    processed = root / "processed" / "event_date=2026-03-01" / "hour=00"
    processed.mkdir(parents=True)
    scores = [i / 1000 for i in range(1000)]
    table = pa.table({"wallet_id": [f"w_{i % 7}" for i in range(1000)], "score": scores})
    pq.write_table(table, processed / "part-0000-0-0")


def _samples(path: Path) -> None:
    with open(path, "w") as f:
        for i in range(12):
            metrics = {
                f"{G}_events_in": 1000.0 * i,
                f"{G}_valid": 990.0 * i,
                f"{G}_alerts_raised": 5.0 * i,
                f"{G}_dlq_records": 10.0 * i,
                f"{G}_event_time_lag_ms": 2000.0 + i,
                "KafkaSourceReader_KafkaConsumer_records_lag_max": 500.0 - 40 * i,
                # the Kinesis source's gauge, two shards: the chart shows the larger
                f"{G}_shard_id_millisBehindLatest{{shard_id=shardId-000000000000}}": 100.0 * i,
                f"{G}_shard_id_millisBehindLatest{{shard_id=shardId-000000000001}}": 50.0,
            }
            f.write(json.dumps({"ts_ms": T0 + 2000 * i, "metrics": metrics}) + "\n")


def _chromium_dom(html_file: Path) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    return subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", html_file.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def _screenshot(html_file: Path, shot: Path) -> bytes:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=1400,1700", f"--screenshot={shot}", html_file.as_uri()],
        capture_output=True,
        timeout=120,
    )
    return shot.read_bytes()


def _rendered_marks(dom: str) -> dict[str, tuple[int, int]]:
    return {
        m.group(1): (int(m.group(2)), int(m.group(3)))
        for m in re.finditer(
            r'<svg[^>]*data-chart="(\w+)"[^>]*data-marks="(\d+)"[^>]*'
            r'data-rendered-marks="(\d+)"',
            dom,
        )
    }


@pytest.fixture
def warehouse_schema(local_stack, tmp_path):
    """A fresh, migrated warehouse schema whose loader reads `tmp_path/lake`; dropped after."""
    from pipeline.warehouse.migrate import migrate
    from pipeline.warehouse.session import open_session

    wh = dataclasses.replace(
        load_config(environ={}).warehouse,
        schema=f"wh_dashboard_{uuid.uuid4().hex[:8]}",
        lake_root=str(tmp_path / "lake"),
    )
    session = open_session(wh)
    migrate(session)
    session.close()
    yield wh
    session = open_session(wh)
    session.execute_native(f"DROP SCHEMA IF EXISTS {wh.schema} CASCADE")
    session.commit()
    session.close()


@pytest.mark.stack
@pytest.mark.minicluster
def test_dashboard_from_a_real_run_loaded_into_the_warehouse_holds_data_in_chromium(
    warehouse_schema, tmp_path
):
    """A job run (its metrics scraped while it runs) → the loader → the warehouse → the page."""
    from datasets.generator import Config, generate_files
    from pipeline.prometheus import find_endpoints, scrape_all, summarize
    from pipeline.summary import read_processed
    from pipeline.warehouse.lake import LocalLake
    from pipeline.warehouse.loader import Loader
    from tests.jobs import run_job

    source = tmp_path / "tx.csv"
    generate_files(Config(events=15_000, seed=29), source, tmp_path / "l.csv", tmp_path / "w.csv")
    samples_file, done = tmp_path / "samples.jsonl", threading.Event()

    def record_samples():  # what `python -m pipeline.prometheus record` writes
        with open(samples_file, "a") as f:
            while not done.wait(0.25):
                urls = find_endpoints(PORTS, timeout_s=0.3)
                summary = summarize(scrape_all(urls), G) if urls else {}
                if f"{G}_events_in" in summary:
                    f.write(json.dumps({"ts_ms": time.time_ns() // 10**6, "metrics": summary}))
                    f.write("\n")
                    f.flush()

    recorder = threading.Thread(target=record_samples, daemon=True)
    recorder.start()
    try:
        paths = run_job(
            tmp_path,
            source,
            1,
            **{
                "metrics.prometheus_ports": PORTS,
                "metrics.flush_interval_ms": "200",
                "reference.wallets_file": str(tmp_path / "w.csv"),
            },
        )
    finally:
        done.set()
        recorder.join(10)
    report = Loader(warehouse_schema, LocalLake(paths.root)).run_once()
    assert report.count("loaded") > 0 and report.count("quarantined") == 0

    lake = read_processed(paths.processed, ["wallet_id", "alerted"]).to_pylist()
    cfg = dataclasses.replace(load_config(environ={}), warehouse=warehouse_schema)
    page, charts = render(cfg, samples_file, paths.root)
    html_file = tmp_path / "dashboard.html"
    html_file.write_text(page, encoding="utf-8")

    expected = {c.name: c for c in charts}
    assert set(expected) == {"throughput", "lag", "alerts_by_rule", "fraud_rate", "scores"}
    # every scored transaction of the lake is in the warehouse's score distribution
    assert expected["scores"].marks == 20
    assert expected["scores"].note.startswith(f"{len(lake):,} scored transactions")
    assert "alerts in the warehouse table alerts" in expected["alerts_by_rule"].note

    dom = _chromium_dom(html_file)
    assert 'data-ready="yes"' in dom, "the page's script did not run"
    assert 'data-source="warehouse"' in dom
    rendered = _rendered_marks(dom)
    assert set(rendered) == set(expected)
    for name, (written, parsed) in rendered.items():
        assert written == parsed == expected[name].marks > 0, name

    # the top wallet's alert count is what the lake holds for it
    rows = re.search(r'id="top-wallets" data-rows="(\d+)"', dom)
    assert rows and int(rows.group(1)) > 0
    top_wallet, top_alerts = re.search(
        r'<table id="top-wallets".*?</tr><tr><td>([^<]+)</td><td>([\d,]+)</td>', dom, re.S
    ).groups()
    lake_alerts = Counter(r["wallet_id"] for r in lake if r["alerted"])
    assert int(top_alerts.replace(",", "")) == lake_alerts[top_wallet] == max(lake_alerts.values())

    data = _screenshot(html_file, tmp_path / "dashboard.png")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 30_000  # charts drawn, not a blank page (a blank one is ~10 KB)


def test_dashboard_falls_back_to_the_lake_with_a_visible_note_when_the_warehouse_is_down(
    tmp_path,
):
    _lake(tmp_path / "run")
    _samples(tmp_path / "samples.jsonl")
    base = load_config(environ={})
    # nothing listens on port 9 (discard) of 127.0.0.1: connection refused at once
    cfg = dataclasses.replace(base, warehouse=dataclasses.replace(base.warehouse, port=9))
    page, charts = render(cfg, tmp_path / "samples.jsonl", tmp_path / "run")
    html_file = tmp_path / "dashboard.html"
    html_file.write_text(page, encoding="utf-8")

    expected = {c.name: c.marks for c in charts}
    # throughput: 3 series × 11 intervals; lag: 3 series × 12 scrapes; scores: 20 bins
    assert expected["throughput"] == 33
    assert expected["lag"] == 36
    lag = next(c for c in charts if c.name == "lag")
    last = time.strftime("%H:%M:%S", time.gmtime((T0 + 22_000) / 1000))
    assert f"Kinesis millisBehindLatest, max shard (s) {last} 1.10</title>" in lag.svg
    assert expected["scores"] == 20
    assert expected["alerts_by_rule"] > 0

    dom = _chromium_dom(html_file)
    note = re.search(
        r'<p id="data-source" class="fallback" data-source="lake">(.*?)</p>', dom, re.S
    )
    assert note and "unreachable" in note.group(1) and ":9/" in note.group(1)
    rendered = _rendered_marks(dom)
    assert set(rendered) == set(expected)
    for name, (written, parsed) in rendered.items():
        assert written == parsed == expected[name] > 0, name
    rows = re.search(r'id="top-wallets" data-rows="(\d+)"', dom)
    assert rows and int(rows.group(1)) == 7  # 7 wallets alerted
    assert "w_000000" in dom
    data = _screenshot(html_file, tmp_path / "dashboard.png")
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 30_000


@pytest.mark.parametrize("missing", ["samples", "lake"])
def test_dashboard_says_what_is_missing_instead_of_failing(tmp_path, missing):
    if missing == "lake":
        _samples(tmp_path / "samples.jsonl")
    else:
        _lake(tmp_path / "run")
    page, charts = render(
        load_config(environ={}), tmp_path / "samples.jsonl", tmp_path / "run", use_warehouse=False
    )
    empty = [c for c in charts if c.marks == 0]
    assert empty and all(c.note for c in empty)
    assert "<svg" in page
