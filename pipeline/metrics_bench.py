"""What the job's own metrics cost: the same job with metrics on and off, in one run.

    python -m pipeline bench --metrics-overhead --events 200000 [--rounds 2]

Each side is a fresh process on the same generated file (`pipeline.bench.dataset`):
*on* = `metrics.enabled = true` with the Prometheus reporter bound and scraped every second
(as `alarms watch` / `prometheus record` would), *off* = `metrics.enabled = false` (the keyed
function counts nothing, `DisabledMetrics`) and no reporter. Sides alternate (off, on, on,
off, …) so a drift in the machine's load hits both alike. Printed per side: events/s over
the processing span (first to last processed row, start-up excluded) and over the wall time,
p50/p99 of the per-record processing time the job writes (`processing_us`), and the load
average before and after.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import numpy as np

from .bench import BENCH_DIR, dataset, run_flink, run_side_process
from .config import load_config

#: Reporter ports of the "on" side: apart from local runs' defaults and the tests'.
PORTS = "9220-9229"


def _child(side: str, events: int) -> int:
    tx, wallets = dataset(events)
    overrides = {
        "source.path": str(tx),
        "reference.wallets_file": str(wallets),
        "sink.output_dir": str(BENCH_DIR / f"out-metrics-{side}"),
        "flink.checkpoint_dir": str(BENCH_DIR / f"checkpoints-metrics-{side}"),
        "flink.log_dir": str(BENCH_DIR / f"logs-metrics-{side}"),
        "metrics.enabled": "true" if side == "on" else "false",
        "metrics.prometheus_ports": PORTS if side == "on" else "",
    }
    cfg = load_config(overrides)
    done = threading.Event()
    scrapes = [0]
    if side == "on":
        threading.Thread(target=_scrape_loop, args=(done, scrapes), daemon=True).start()
    try:
        out = run_flink(cfg)
    finally:
        done.set()
    out["scrapes"] = scrapes[0]
    print("BENCH-RESULT " + json.dumps(out))
    return 0


def _scrape_loop(done: threading.Event, scrapes: list[int]) -> None:
    from .prometheus import find_endpoints, scrape_all

    while not done.wait(1.0):
        urls = find_endpoints(PORTS, timeout_s=0.5)
        if urls and scrape_all(urls):
            scrapes[0] += 1


def _run_side(side: str, events: int) -> dict:
    return run_side_process("pipeline.metrics_bench", [side, str(events)], "metrics-overhead")


def order(rounds: int) -> list[str]:
    """off, on, on, off, off, on, …: each side first in half the rounds."""
    sides = []
    for r in range(rounds):
        sides += ["off", "on"] if r % 2 == 0 else ["on", "off"]
    return sides


def main(events: int, rounds: int = 1) -> int:
    if events > 200_000:
        print(f"note: {events:,} events on a shared machine; ≤ 200k is plenty", file=sys.stderr)
    dataset(events)
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for side in order(rounds):
        print(f"metrics {side} …", file=sys.stderr, flush=True)
        runs[side].append(_run_side(side, events))
    load_after = os.getloadavg()

    def med(side: str, fn) -> float:
        return float(np.median([fn(r) for r in runs[side]]))

    rows = [
        ("runs", lambda s: f"{len(runs[s])}"),
        ("events", lambda s: f"{runs[s][0]['events']:,}"),
        ("events/s (processing span)", lambda s: f"{med(s, _proc_rate):,.0f}"),
        ("events/s (wall, startup incl.)", lambda s: f"{med(s, _wall_rate):,.0f}"),
        ("p50 per-record processing (µs)", lambda s: f"{med(s, lambda r: r['p50_us']):.0f}"),
        ("p99 per-record processing (µs)", lambda s: f"{med(s, lambda r: r['p99_us']):.0f}"),
        ("Prometheus scrapes during the run", lambda s: f"{med(s, lambda r: r['scrapes']):.0f}"),
        (
            "all records accounted for",
            lambda s: "yes" if all(r["accounted"] for r in runs[s]) else "NO",
        ),
    ]
    print(f"\n{'(medians over runs)':<40}{'metrics off':>16}{'metrics on':>16}")
    for label, fmt in rows:
        print(f"{label:<40}{fmt('off'):>16}{fmt('on'):>16}")
    off, on = med("off", _proc_rate), med("on", _proc_rate)
    print(
        f"\nthroughput with metrics on: {on / off - 1:+.1%} vs off (processing span); "
        f"each run: off {[round(_proc_rate(r)) for r in runs['off']]}, "
        f"on {[round(_proc_rate(r)) for r in runs['on']]}"
    )
    print(
        "load average (1/5/15 min) before "
        + "/".join(f"{x:.2f}" for x in load_before)
        + f", after {'/'.join(f'{x:.2f}' for x in load_after)} on {os.cpu_count()} CPUs"
    )
    return 0


def _proc_rate(r: dict) -> float:
    return r["events"] / r["processing_s"]


def _wall_rate(r: dict) -> float:
    return r["events"] / r["wall_s"]


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], int(sys.argv[2])))
