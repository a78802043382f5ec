"""The job's metrics reach the Prometheus reporter of a local (minicluster) run: scraped on
127.0.0.1 while `python -m pipeline run` processes a generated file."""

from __future__ import annotations

import threading
import time

import pytest

from pipeline.prometheus import find_endpoints, labelled, metric, scrape_all, summarize
from tests.jobs import run_job

pytestmark = pytest.mark.minicluster

PORTS = "9240-9249"  # apart from the defaults of local runs (9250-9259) and the cluster's
G = "kinesisanalytics"
REASONS = {
    "malformed_record",
    "empty_record",
    "oversize_record",
    "not_utf8",
    "missing_field",
    "wrong_type",
    "bad_timestamp",
    "timestamp_out_of_range",
    "bad_enum",
    "bad_amount",
    "unknown_asset",
    "bad_ip",
    "bad_country",
    "duplicate_conflict",
}


def test_a_local_run_exports_the_pipeline_metrics_to_prometheus(tmp_path):
    from datasets.generator import Config, generate_files

    source = tmp_path / "tx.csv"
    events = 15_000
    generate_files(Config(events=events, seed=13), source, tmp_path / "l.csv", tmp_path / "w.csv")

    scrapes: list[dict] = []
    done = threading.Event()

    def scrape_loop():
        while not done.is_set():
            urls = find_endpoints(PORTS, timeout_s=0.5)
            summary = summarize(scrape_all(urls), G) if urls else {}
            # While the finished task's metrics are being unregistered a scrape can hold
            # only some of them: keep the scrapes that show the operator's events_in.
            if f"{G}_events_in" in summary:
                scrapes.append(summary)
            time.sleep(0.5)

    thread = threading.Thread(target=scrape_loop, daemon=True)
    thread.start()
    try:
        run_job(tmp_path, source, 1, **{"metrics.prometheus_ports": PORTS})
    finally:
        done.set()
        thread.join(10)

    assert scrapes, f"no Prometheus reporter answered on 127.0.0.1:{PORTS} during the run"
    seen = [metric(s, G, "events_in") for s in scrapes]
    assert max(seen) > 0
    assert all(0 <= v <= events for v in seen)
    assert seen == sorted(seen), "a running total went down"
    last = scrapes[-1]
    assert set(labelled(last, G, "invalid", "reason")) <= REASONS
    buckets = labelled(last, G, "score_bucket", "le")
    ordered = [buckets[k] for k in sorted((k for k in buckets if k != "inf"), key=int)]
    assert ordered == sorted(ordered) and buckets["inf"] >= ordered[-1]
    assert buckets["inf"] == pytest.approx(metric(last, G, "valid"), abs=50)
