"""The HTML dashboard rendered by headless Chromium (Debian's `chromium`): every chart holds
the data marks written for it, the top-wallets table is filled, and a screenshot is taken.

Inputs are files in the formats the job and the recorder write (alert JSON lines, a
processed Parquet part file, recorded scrape summaries), built here so the expected counts
are known."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.dashboard import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
G = "kinesisanalytics"
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
            }
            f.write(json.dumps({"ts_ms": T0 + 2000 * i, "metrics": metrics}) + "\n")


def test_dashboard_charts_hold_data_in_headless_chromium(tmp_path):
    assert CHROMIUM, "Debian's chromium is not installed (scripts/setup-system.sh installs it)"
    _lake(tmp_path / "run")
    _samples(tmp_path / "samples.jsonl")
    page, charts = render(load_config(environ={}), tmp_path / "samples.jsonl", tmp_path / "run")
    html_file = tmp_path / "dashboard.html"
    html_file.write_text(page, encoding="utf-8")

    expected = {c.name: c.marks for c in charts}
    # throughput: 3 series × 11 intervals; lag: 2 series × 12 scrapes; scores: 20 bins
    assert expected["throughput"] == 33
    assert expected["lag"] == 24
    assert expected["scores"] == 20
    assert expected["alerts_by_rule"] > 0

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", html_file.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 'data-ready="yes"' in dom, "the page's script did not run"
    rendered = {
        m.group(1): (int(m.group(2)), int(m.group(3)))
        for m in re.finditer(
            r'<svg[^>]*data-chart="(\w+)"[^>]*data-marks="(\d+)"[^>]*'
            r'data-rendered-marks="(\d+)"',
            dom,
        )
    }
    assert set(rendered) == set(expected)
    for name, (written, parsed) in rendered.items():
        assert written == parsed == expected[name] > 0, name
    rows = re.search(r'id="top-wallets" data-rows="(\d+)"', dom)
    assert rows and int(rows.group(1)) == 7  # 7 wallets alerted
    assert "w_000000" in dom

    shot = tmp_path / "dashboard.png"
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=1400,1500", f"--screenshot={shot}", html_file.as_uri()],
        capture_output=True,
        timeout=120,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 30_000  # charts drawn, not a blank page (a blank one is ~10 KB)


@pytest.mark.parametrize("missing", ["samples", "lake"])
def test_dashboard_says_what_is_missing_instead_of_failing(tmp_path, missing):
    if missing == "lake":
        _samples(tmp_path / "samples.jsonl")
    else:
        _lake(tmp_path / "run")
    page, charts = render(load_config(environ={}), tmp_path / "samples.jsonl", tmp_path / "run")
    empty = [c for c in charts if c.marks == 0]
    assert empty and all(c.note for c in empty)
    assert "<svg" in page
