"""Synthetic processed-zone rows, vectorised (numpy/pyarrow), for tests and the benchmark.

The schema is the job's own (`pipeline.schemas.PROCESSED_COLUMNS`); the values are
plausible, not a fraud simulation (that is datasets/generator.py's job): this only has to
fill the warehouse fast with the right shape and realistic cardinalities.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_ARROW = {
    "STRING": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "INT": pa.int32(),
}
TX_TYPES = ["trade", "deposit", "withdrawal", "transfer"]
ASSETS = ["BTC", "ETH", "USDT", "SOL", "XRP", "DOGE", "ADA", "USDC"]
PRICES = [95000.0, 3500.0, 1.0, 180.0, 0.6, 0.15, 0.45, 1.0]
VENUES = ["coinex-eu", "coinex-us", "coinex-asia", "otc-desk", "dex-bridge"]
COUNTRIES = ["US", "GB", "DE", "FR", "SG", "JP", "BR", "NG", "AE", "CA"]


def processed_schema() -> pa.Schema:
    from pipeline.schemas import PROCESSED_COLUMNS

    return pa.schema([(c, _ARROW[t]) for c, t in PROCESSED_COLUMNS])


def _labels(prefix: str, ids: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(ids).cast(pa.string()), "")


def processed_rows(
    n: int, start_ms: int, span_ms: int, wallets: int, seed: int, first_id: int = 0
) -> pa.Table:
    """`n` rows with event times in [start_ms, start_ms + span_ms), sorted by time."""
    rng = np.random.default_rng(seed)
    schema = processed_schema()
    event_ms = np.sort(start_ms + rng.integers(0, span_ms, n, dtype=np.int64))
    tx_type = rng.choice(4, n, p=[0.55, 0.15, 0.15, 0.15])
    asset = rng.integers(0, len(ASSETS), n)
    price = np.asarray(PRICES)[asset]
    usd = np.exp(rng.normal(5.0, 2.0, n))
    score = rng.beta(0.5, 12.0, n)
    alerted = (score > 0.25) | (rng.random(n) < 0.01)  # ~2 % of rows alert
    # skewed like real activity: wallet k's share falls off as 1/sqrt(k) (top wallet ~0.2 %)
    wallet = (wallets * rng.random(n) ** 2).astype(np.int64)
    counterparty = rng.integers(0, wallets, n)
    cols = {
        "tx_id": _labels("tx_", np.arange(first_id, first_id + n)),
        "event_time_ms": pa.array(event_ms),
        "tx_type": pa.array(TX_TYPES).take(pa.array(tx_type)),
        "wallet_id": _labels("w_", wallet),
        "counterparty_wallet": pc.if_else(
            pa.array(tx_type == 3), _labels("w_", counterparty), pa.nulls(n, pa.string())
        ),
        "asset": pa.array(ASSETS).take(pa.array(asset)),
        "amount": pa.array(usd / price),
        "amount_usd": pa.array(usd),
        "price_usd": pa.array(price),
        "chain": pa.nulls(n, pa.string()),
        "tx_hash": pa.nulls(n, pa.string()),
        "venue": pa.array(VENUES).take(pa.array(rng.integers(0, len(VENUES), n))),
        "ip": _labels("10.0.0.", rng.integers(0, 255, n)),
        "country": pa.array(COUNTRIES).take(pa.array(rng.integers(0, len(COUNTRIES), n))),
        "geo_country": pa.array(COUNTRIES).take(pa.array(rng.integers(0, len(COUNTRIES), n))),
        "device_id": _labels("d_", rng.integers(0, wallets * 2, n)),
        "wallet_known": pa.array(rng.random(n) < 0.95),
        "wallet_kyc_tier": pa.array(rng.integers(0, 4, n).astype(np.int32)),
        "score": pa.array(score),
        "alerted": pa.array(alerted),
        "rule_ids": pc.if_else(pa.array(alerted), "model_score", ""),
        "severity": pc.if_else(pa.array(alerted), "high", pa.scalar(None, pa.string())),
        "model_version": pa.array(np.full(n, "gbt-synthetic")),
        "processed_at_ms": pa.array(event_ms + 250),
        "processing_us": pa.array(rng.integers(20, 200, n).astype(np.int32)),
    }
    for name in schema.names:
        if name.startswith("f_"):
            cols[name] = pa.array(np.round(rng.random(n) * 10, 3))
    return pa.table([cols[f.name] for f in schema], schema=schema)


def write_hourly_files(
    root: Path, rows: int, start_ms: int, hours: int, wallets: int, seed: int
) -> list[Path]:
    """Parquet files laid out like the processed zone (event_date=…/hour=…/part-…), one per hour."""
    per_hour = [rows // hours + (1 if h < rows % hours else 0) for h in range(hours)]
    paths, first_id = [], 0
    for h, n in enumerate(per_hour):
        if n == 0:
            continue
        t0 = start_ms + h * 3_600_000
        table = processed_rows(n, t0, 3_600_000, wallets, seed + h, first_id)
        first_id += n
        day = np.datetime64(t0, "ms").astype("datetime64[D]")
        hour = int((t0 // 3_600_000) % 24)
        d = root / "processed" / f"event_date={day}" / f"hour={hour:02d}"
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"part-synthetic-{seed}-{h}"
        pq.write_table(table, path, compression="snappy")
        paths.append(path)
    return paths
