"""One self-contained HTML report of a run: `python -m pipeline dashboard --out out/dashboard.html`.

Charts are inline SVG written here (no JavaScript library, no network):

* from the metrics — throughput and lag over time, from the recorded Prometheus samples
  (`python -m pipeline.prometheus record` → `metrics.samples_file`);
* from the warehouse (`[warehouse]`: PostgreSQL locally, Redshift in AWS, filled by the
  loader) — the top risky wallets (BI view `v_wallet_risk_daily`), the fraud rate by hour
  (`v_fraud_rate_hourly`), alerts per rule over event time (`alerts`, its `rule_ids`
  unnested) and the model-score distribution (`scored_transactions`).

When the warehouse cannot be reached the page says so at the top (`#data-source`, class
`fallback`) and draws those charts from the run's lake files instead (`sink.output_dir`:
processed Parquet and alert JSON lines), as the loader would have loaded them.

Every chart is an `<svg class="chart" data-chart=NAME data-marks=N>` with N data marks
(points, bars); a few lines of script count the marks the browser actually parsed into
`data-rendered-marks`, which the headless-Chromium test reads back from the DOM.
"""

from __future__ import annotations

import html
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from .config import PipelineConfig, WarehouseConfig
from .prometheus import kinesis_lag_by_shard, labelled, metric, read_samples

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 240, 64, 120, 16, 36


@dataclass
class Chart:
    name: str
    title: str
    svg: str
    marks: int
    note: str = ""


@dataclass
class WalletTable:
    """The top-risky-wallets table: a title, column headers and rows of cell texts."""

    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]


def _fmt(v: float) -> str:
    if abs(v) >= 1e9:
        return f"{v / 1e9:.1f}G"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.0f}k"
    if abs(v) >= 100 or v == int(v):
        return f"{v:,.0f}"
    return f"{v:.2f}"


def _time_label(ms: float, span_ms: float) -> str:
    fmt = "%H:%M:%S" if span_ms < 2 * 3600_000 else "%m-%d %H:%M"
    return time.strftime(fmt, time.gmtime(ms / 1000))


def line_chart(
    name: str, title: str, series: dict[str, list[tuple[float, float]]], y_label: str, note=""
) -> Chart:
    """Lines over time (x in epoch ms), one colour per series, with a legend."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        return _empty(name, title, note or "no data recorded")
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(max(p[1] for p in points), 1e-9)
    x1 = x1 if x1 > x0 else x0 + 1
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def sx(x: float) -> float:
        return PAD_L + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return PAD_T + ph - y / y1 * ph

    parts = [_axes(y1, y_label)]
    for i in range(5):  # time ticks
        x = x0 + (x1 - x0) * i / 4
        parts.append(
            f'<text x="{sx(x):.1f}" y="{H - 12}" text-anchor="middle" class="tick">'
            f"{_time_label(x, x1 - x0)}</text>"
        )
    marks = 0
    for i, (label, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        pts = sorted(pts)
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{path}"/>')
        for x, y in pts:
            parts.append(
                f'<circle class="mark" cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="1.8" fill="{color}">'
                f"<title>{html.escape(label)} {_time_label(x, 0)} {_fmt(y)}</title></circle>"
            )
            marks += 1
        ly = PAD_T + 12 + 14 * i
        parts.append(
            f'<rect x="{W - PAD_R + 8}" y="{ly - 8}" width="10" height="10" fill="{color}"/>'
            f'<text x="{W - PAD_R + 22}" y="{ly + 1}" class="legend">{html.escape(label)}</text>'
        )
    return Chart(name, title, _svg(name, marks, parts), marks, note)


def bar_chart(
    name: str, title: str, bars: list[tuple[str, float]], y_label: str, log: bool = False, note=""
) -> Chart:
    """Vertical bars with category labels; `log` scales the height by log10(1 + value)."""
    if not bars or not any(v for _, v in bars):
        return _empty(name, title, note or "no data")

    def scale(v: float) -> float:
        return math.log10(1 + v) if log else v

    top = max(scale(v) for _, v in bars) or 1
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    bw = pw / len(bars)
    parts = [_axes(top, y_label + (" (log scale)" if log else ""), log)]
    marks = 0
    for i, (label, v) in enumerate(bars):
        h = scale(v) / top * ph
        x = PAD_L + i * bw
        parts.append(
            f'<rect class="mark" x="{x + 1:.1f}" y="{PAD_T + ph - h:.1f}" width="{bw - 2:.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{html.escape(label)}: {v:,.0f}'
            "</title></rect>"
        )
        marks += 1
        if i % max(1, len(bars) // 10) == 0:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{H - 12}" text-anchor="middle" class="tick">'
                f"{html.escape(label)}</text>"
            )
    return Chart(name, title, _svg(name, marks, parts), marks, note)


def _axes(y_max: float, y_label: str, log: bool = False) -> str:
    """Y ticks and grid; with `log`, `y_max` is log10(1 + max) and ticks show values."""
    ph = H - PAD_T - PAD_B

    def tick(i: int) -> float:
        return 10 ** (y_max * i / 4) - 1 if log else y_max * i / 4

    ticks = "".join(
        f'<text x="{PAD_L - 6}" y="{PAD_T + ph - ph * i / 4 + 4:.1f}" text-anchor="end" '
        f'class="tick">{_fmt(tick(i))}</text>'
        f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{PAD_T + ph - ph * i / 4:.1f}" '
        f'y2="{PAD_T + ph - ph * i / 4:.1f}" class="grid"/>'
        for i in range(5)
    )
    return (
        ticks + f'<text x="12" y="{PAD_T + ph / 2}" class="axis" '
        f'transform="rotate(-90 12 {PAD_T + ph / 2})" text-anchor="middle">'
        f"{html.escape(y_label)}</text>"
    )


def _svg(name: str, marks: int, parts: list[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{name}" data-marks="{marks}" viewBox="0 0 {W} {H}" '
        f'width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>"
    )


def _empty(name: str, title: str, why: str) -> Chart:
    svg = _svg(
        name,
        0,
        [f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">{html.escape(why)}</text>'],
    )
    return Chart(name, title, svg, 0, why)


# ---------------------------------------------------------------- data


def rate_series(samples: list[dict], key_fn) -> list[tuple[float, float]]:
    """Per-second rate of a running total between consecutive samples (restarts skipped)."""
    out = []
    for a, b in pairwise(samples):
        va, vb = key_fn(a["metrics"]), key_fn(b["metrics"])
        dt = (b["ts_ms"] - a["ts_ms"]) / 1000
        if dt > 0 and vb >= va:
            out.append((b["ts_ms"], (vb - va) / dt))
    return out


def metric_charts(samples: list[dict], group: str) -> list[Chart]:
    note = f"{len(samples)} recorded scrapes" if samples else "no samples recorded"
    throughput = {
        "events in /s": rate_series(samples, lambda m: metric(m, group, "events_in")),
        "valid /s": rate_series(samples, lambda m: metric(m, group, "valid")),
        "alerts /s": rate_series(samples, lambda m: metric(m, group, "alerts_raised")),
    }
    lag: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in samples:
        m = s["metrics"]
        for key, label in (
            ("KafkaSourceReader_KafkaConsumer_records_lag_max", "Kafka records-lag-max"),
            ("pendingRecords", "source pendingRecords"),
        ):
            if key in m:
                lag[label].append((s["ts_ms"], m[key]))
        shards = kinesis_lag_by_shard(m, group)
        if shards:
            lag["Kinesis millisBehindLatest, max shard (s)"].append(
                (s["ts_ms"], max(shards.values()) / 1000)
            )
        if f"{group}_event_time_lag_ms" in m:
            lag["event-time lag (s)"].append((s["ts_ms"], m[f"{group}_event_time_lag_ms"] / 1000))
    return [
        line_chart("throughput", "Throughput", throughput, "records / s", note),
        line_chart(
            "lag",
            "Lag: consumer backlog (records) and event-time lag (s)",
            dict(lag),
            "records | seconds",
            note,
        ),
    ]


def _score_bars_from_samples(samples: list[dict], group: str) -> list[tuple[str, float]]:
    if not samples:
        return []
    buckets = labelled(samples[-1]["metrics"], group, "score_bucket", "le")
    buckets = {le: v for le, v in buckets.items() if le == "inf" or le.isdigit()}
    ordered = sorted(buckets.items(), key=lambda kv: math.inf if kv[0] == "inf" else int(kv[0]))
    bars, prev, lo = [], 0.0, "0"
    for le, cum in ordered:
        hi = "1" if le == "inf" else f"{int(le) / 100:g}"
        bars.append((f"≤{hi}" if lo == "0" else f"{lo}–{hi}", cum - prev))
        prev, lo = cum, hi
    return bars


def lake_charts(run_dir: Path, samples: list[dict], group: str, top_n: int = 15):
    """Alerts per rule over event time, score distribution, top wallets (from the lake)."""
    from .sinks import OutputPaths
    from .summary import read_json_lines, read_processed

    paths = OutputPaths(run_dir)
    alerts = read_json_lines(paths.alerts) if paths.alerts.is_dir() else []
    processed = (
        read_processed(paths.processed, ["wallet_id", "score"])
        if paths.processed.is_dir()
        else None
    )
    charts = []

    per_rule: dict[str, Counter] = defaultdict(Counter)
    times = [_iso_ms(a["event_time"]) for a in alerts]
    if times:
        span = max(times) - min(times) or 1
        step = _nice_step(span / 40)
        for a, t in zip(alerts, times, strict=True):
            for rule in a["rule_ids"]:
                per_rule[rule][t // step * step] += 1
    series = {
        rule: sorted(c.items())
        for rule, c in sorted(per_rule.items(), key=lambda kv: -sum(kv[1].values()))
    }
    charts.append(
        line_chart(
            "alerts_by_rule",
            "Alerts per rule over event time",
            series,
            "alerts per bucket",
            f"{len(alerts):,} alerts from {paths.alerts}" if alerts else "no alerts in the lake",
        )
    )

    if processed is not None and processed.num_rows:
        scores = processed.column("score").to_pylist()
        bins = [0] * 20
        for s in scores:
            bins[min(19, max(0, int(s * 20)))] += 1
        bars = [(f"{i / 20:.2f}", float(n)) for i, n in enumerate(bins)]
        note = f"{len(scores):,} scored transactions from {paths.processed}"
    else:
        bars, note = _score_bars_from_samples(samples, group), "from the metrics' score buckets"
    charts.append(bar_chart("scores", "Model-score distribution", bars, "transactions", True, note))

    wallets: dict[str, dict] = {}
    for a in alerts:
        w = wallets.setdefault(
            a["wallet_id"], {"alerts": 0, "max_score": 0.0, "rules": Counter(), "critical": 0}
        )
        w["alerts"] += 1
        w["max_score"] = max(w["max_score"], a["score"])
        w["rules"].update(a["rule_ids"])
        w["critical"] += a["severity"] == "critical"
    top = sorted(wallets.items(), key=lambda kv: (-kv[1]["alerts"], -kv[1]["max_score"]))[:top_n]
    table = WalletTable(
        "Top risky wallets (by alerts, then highest score)",
        ("wallet", "alerts", "critical", "max score", "rules"),
        [
            (
                w,
                str(d["alerts"]),
                str(d["critical"]),
                f"{d['max_score']:.3f}",
                ", ".join(r for r, _ in d["rules"].most_common()),
            )
            for w, d in top
        ],
    )
    return charts, table, len(alerts)


# ---------------------------------------------------------------- warehouse

# Written in Redshift's dialect (the session translates for the PostgreSQL stand-in).
_TOP_WALLETS_SQL = """
SELECT wallet_id, SUM(alert_count) AS alerts, MAX(max_score) AS max_score,
       SUM(tx_count) AS tx_count, SUM(usd_total) AS usd_total
FROM v_wallet_risk_daily
GROUP BY wallet_id
HAVING SUM(alert_count) > 0
ORDER BY alerts DESC, max_score DESC, wallet_id
LIMIT %s"""
_FRAUD_RATE_SQL = """
SELECT hour, SUM(alert_count) AS alerts, SUM(tx_count) AS tx_count
FROM v_fraud_rate_hourly
GROUP BY hour
ORDER BY hour"""
_SCORE_BINS_SQL = """
SELECT LEAST(FLOOR(score * 20), 19)::INT AS bin, COUNT(*)
FROM scored_transactions
WHERE score IS NOT NULL
GROUP BY 1"""
_ALERT_COUNT_SQL = "SELECT COUNT(*) FROM alerts"
# rule_ids is SUPER on Redshift (PartiQL unnests it in FROM) and jsonb on PostgreSQL: the
# one query here whose dialects differ beyond what `warehouse.translate` rewrites.
_ALERTS_BY_RULE_SQL = {
    "redshift": """
SELECT DATE_TRUNC('hour', a.event_time) AS hour, r::VARCHAR AS rule, COUNT(*)
FROM alerts AS a, a.rule_ids AS r
GROUP BY 1, 2
ORDER BY 1""",
    "postgres": """
SELECT DATE_TRUNC('hour', a.event_time) AS hour, r.rule, COUNT(*)
FROM alerts AS a CROSS JOIN LATERAL jsonb_array_elements_text(a.rule_ids) AS r(rule)
GROUP BY 1, 2
ORDER BY 1""",
}


def _epoch_ms(ts) -> float:
    """A warehouse TIMESTAMP (UTC, without zone) as epoch ms."""
    import calendar

    return calendar.timegm(ts.timetuple()) * 1000.0


def warehouse_charts(wh: WarehouseConfig, top_n: int = 15):
    """Alerts per rule, fraud rate, score distribution and top wallets from the warehouse.

    Raises whatever the connection raises when the warehouse cannot be reached (the caller
    falls back to the lake).
    """
    from .warehouse.session import open_session

    session = open_session(wh)
    try:
        per_rule: dict[str, list[tuple[float, float]]] = defaultdict(list)
        totals: Counter = Counter()
        for hour, rule, n in session.execute_native(
            _ALERTS_BY_RULE_SQL[session.dialect]
        ).fetchall():
            per_rule[rule].append((_epoch_ms(hour), float(n)))
            totals[rule] += n
        rate = [
            (_epoch_ms(hour), 100.0 * float(alerts) / float(tx))
            for hour, alerts, tx in session.query(_FRAUD_RATE_SQL)
            if tx
        ]
        bins = [0] * 20
        for b, n in session.query(_SCORE_BINS_SQL):
            bins[int(b)] += n
        wallets = session.query(_TOP_WALLETS_SQL, (top_n,))
        n_alerts = session.query(_ALERT_COUNT_SQL)[0][0]
        session.commit()  # read-only; ends the transaction psycopg opened
    finally:
        session.close()
    where = f"{wh.kind} {wh.host}:{wh.port}/{wh.database} schema {wh.schema}"
    series = {rule: per_rule[rule] for rule, _ in totals.most_common()}
    charts = [
        line_chart(
            "alerts_by_rule",
            "Alerts per rule over event time (hourly)",
            series,
            "alerts per hour",
            f"{n_alerts:,} alerts in the warehouse table alerts ({where})"
            if n_alerts
            else f"no alerts in the warehouse ({where})",
        ),
        line_chart(
            "fraud_rate",
            "Fraud rate by hour (alerted share of transactions)",
            {"fraud rate %": rate},
            "% of transactions",
            f"BI view v_fraud_rate_hourly ({where})",
        ),
        bar_chart(
            "scores",
            "Model-score distribution",
            [(f"{i / 20:.2f}", float(n)) for i, n in enumerate(bins)],
            "transactions",
            True,
            f"{sum(bins):,} scored transactions in scored_transactions ({where})",
        ),
    ]
    table = WalletTable(
        "Top risky wallets (BI view v_wallet_risk_daily: by alerts, then highest score)",
        ("wallet", "alerts", "max score", "transactions", "USD moved"),
        [
            (w, f"{int(a):,}", f"{s or 0:.3f}", f"{int(t):,}", _fmt(float(u or 0)))
            for w, a, s, t, u in wallets
        ],
    )
    return charts, table, int(n_alerts)


def _iso_ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _nice_step(raw_ms: float) -> int:
    for step in (1_000, 10_000, 60_000, 600_000, 3_600_000, 6 * 3_600_000, 86_400_000):
        if raw_ms <= step:
            return step
    return 7 * 86_400_000


# ---------------------------------------------------------------- page


_SCRIPT = """
for (const svg of document.querySelectorAll('svg.chart')) {
  svg.setAttribute('data-rendered-marks', svg.querySelectorAll('.mark').length);
}
document.body.setAttribute('data-ready', 'yes');
"""

_STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px} h2{font-size:15px;margin:0 0 4px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(660px,1fr));gap:16px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px}
.note{color:#666;font-size:12px} .tick{font-size:10px;fill:#555} .legend{font-size:11px}
.axis{font-size:11px;fill:#333} line.grid{stroke:#eee}
table{border-collapse:collapse} td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
.kpi{display:inline-block;margin-right:28px} .kpi b{display:block;font-size:22px}
.fallback{background:#fff3cd;border:1px solid #e0b400;border-radius:6px;padding:8px 12px}
"""


def render(
    cfg: PipelineConfig, samples_file: Path, run_dir: Path, use_warehouse: bool = True
) -> tuple[str, list[Chart]]:
    """The page and its charts. With `use_warehouse` the alert, score and wallet charts
    come from the warehouse, or from the lake with a visible note when it is unreachable."""
    group = cfg.metrics.group
    samples = read_samples(samples_file)
    charts = metric_charts(samples, group)
    fallback = None
    if use_warehouse:
        try:
            data, table, n_alerts = warehouse_charts(cfg.warehouse)
            source = "warehouse"
        except Exception as e:  # any failure to read it means: draw from the lake
            first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
            fallback = f"{type(e).__name__}: {first_line}"
    if not use_warehouse or fallback is not None:
        data, table, n_alerts = lake_charts(run_dir, samples, group)
        source = "lake"
    charts += data
    wh = cfg.warehouse
    where = f"{wh.kind} {wh.host}:{wh.port}/{wh.database} schema {wh.schema}"
    if source == "warehouse":
        status = (
            '<p id="data-source" class="note" data-source="warehouse">alerts, scores and '
            f"wallets: the warehouse ({html.escape(where)})</p>"
        )
    elif fallback is not None:
        status = (
            '<p id="data-source" class="fallback" data-source="lake">The warehouse '
            f"({html.escape(where)}) is unreachable ({html.escape(fallback)}): alerts, scores "
            f"and wallets below are read from the lake files in {html.escape(str(run_dir))} "
            "instead, which may hold more than the warehouse has loaded.</p>"
        )
    else:
        status = (
            '<p id="data-source" class="note" data-source="lake">alerts, scores and wallets: '
            f"the lake files in {html.escape(str(run_dir))} (warehouse not asked)</p>"
        )
    last = samples[-1]["metrics"] if samples else {}
    kpis = [
        ("events in", metric(last, group, "events_in")),
        ("valid", metric(last, group, "valid")),
        ("DLQ", metric(last, group, "dlq_records")),
        ("duplicates", metric(last, group, "duplicates")),
        ("alerts (metrics)", metric(last, group, "alerts_raised")),
        (f"alerts ({source})", n_alerts),
    ]
    header = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in table.rows
    )
    cards = "".join(
        f'<div class="card"><h2>{html.escape(c.title)}</h2>{c.svg}'
        f'<div class="note">{html.escape(c.note)}</div></div>'
        for c in charts
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fraud pipeline dashboard</title>
<style>{_STYLE}</style></head>
<body data-ready="no">
<h1>Crypto fraud pipeline — run dashboard</h1>
<p class="note">generated {time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())};
throughput and lag from {html.escape(str(samples_file))} ({len(samples)} scrapes)</p>
{status}
<div>{"".join(f'<span class="kpi">{k}<b>{_fmt(v)}</b></span>' for k, v in kpis)}</div>
<div class="grid2">{cards}
<div class="card"><h2>{html.escape(table.title)}</h2>
<table id="top-wallets" data-rows="{len(table.rows)}"><tr>{header}</tr>{rows}</table></div>
</div>
<script>{_SCRIPT}</script>
</body></html>
"""
    return page, charts


def main(
    cfg: PipelineConfig,
    out: Path,
    samples_file: Path | None,
    run_dir: Path | None,
    use_warehouse: bool = True,
) -> int:
    samples_file = samples_file or cfg.resolve(cfg.metrics.samples_file)
    run_dir = run_dir or cfg.resolve(cfg.sink.output_dir)
    page, charts = render(cfg, samples_file, run_dir, use_warehouse)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    for c in charts:
        print(f"  {c.name:<16} {c.marks:>6} marks  {c.note}")
    print(f"dashboard written to {out}")
    return 0
