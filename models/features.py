"""Model features: one definition used by training (offline) and by the streaming job.

Features are computed per wallet view from a small per-wallet history (last 24 h of event
time, capped), so the same sequence of views gives the same features in both places.
`FEATURE_NAMES` is the column order of the ONNX model's input.
"""

from __future__ import annotations

import math

from operators.event import DIRECTION_IN, DIRECTION_OUT, WalletEvent

FEATURE_NAMES = (
    "log_amount_usd",
    "is_deposit",
    "is_withdrawal",
    "is_transfer",
    "own_count_5m",
    "own_count_1h",
    "log_out_usd_1h",
    "log_in_usd_1h",
    "out_in_ratio_1h",
    "log_secs_since_prev",
    "distinct_out_counterparties_1h",
    "small_out_count_1h",
    "near_threshold_count_24h",
    "log_wallet_age_days",
    "kyc_tier",
    "country_mismatch",
    "counterparty_blocklisted",
    "wallet_known",
)
N_FEATURES = len(FEATURE_NAMES)

HISTORY_MS = 86_400_000  # longest feature window (24 h)
HISTORY_CAP = 256  # entries kept per wallet, newest last
_5M, _1H = 300_000, 3_600_000
_SMALL_USD = 10.0
_NEAR_LOW_USD, _NEAR_HIGH_USD = 8_500.0, 10_000.0
_MAX_GAP_S = 7 * 86_400.0
_DIR_CODE = {DIRECTION_IN: 1, DIRECTION_OUT: -1}


def new_feature_state() -> dict:
    """Per-wallet feature state: the newest event time and a capped 24 h history.

    History entries are tuples ``(ts_ms, direction_code, usd, counterparty, own)`` with
    direction_code 1 = in, -1 = out, 0 = trade.
    """
    return {"newest_ts": 0, "last_own_ts": None, "history": []}


def update_and_compute(state: dict, view: WalletEvent) -> list[float]:
    """Append `view` to the wallet history and return the features of this transaction.

    Mutates `state`. Windows end at the view's own event time, so an out-of-order event
    is described by what happened before it.
    """
    ev = view.event
    tx = ev.tx
    ts = tx.event_time_ms
    usd = ev.amount_usd
    mirrored = view.mirrored
    own = not mirrored
    history = state["history"]
    newest = state["newest_ts"]
    if ts > newest:
        state["newest_ts"] = newest = ts
    cutoff = newest - HISTORY_MS
    if history and history[0][0] < cutoff:
        history[:] = [h for h in history if h[0] >= cutoff]
    dir_code = _DIR_CODE.get(view.direction, 0)
    history.append((ts, dir_code, usd, tx.wallet_id if mirrored else tx.counterparty_wallet, own))
    if len(history) > HISTORY_CAP:
        del history[: len(history) - HISTORY_CAP]

    own5 = own1h = small_out = near = 0
    out_usd = in_usd = 0.0
    cps = set()
    lo5, lo1h, lo24 = ts - _5M, ts - _1H, ts - HISTORY_MS
    near_low, near_high, small_usd = _NEAR_LOW_USD, _NEAR_HIGH_USD, _SMALL_USD
    # One pass in arrival order (history is not sorted by time: late events are appended),
    # which also keeps the order the USD sums add up in, hence bit-identical floats.
    # Entries older than 1 h, most of a busy wallet's history, only matter for `near`:
    # they take the short branch, rarest test first.
    for h in history:
        h_ts = h[0]
        if h_ts < lo1h:
            if near_low <= h[2] < near_high and h[4] and h[1] and h_ts >= lo24:
                near += 1
            continue
        if h_ts > ts:
            continue
        _, h_dir, h_usd, h_cp, h_own = h
        if h_own:
            own1h += 1
            if h_ts >= lo5:
                own5 += 1
            if h_dir and near_low <= h_usd < near_high:
                near += 1
        if h_dir == -1:
            out_usd += h_usd
            if h_cp is not None:
                cps.add(h_cp)
            if h_usd <= small_usd:
                small_out += 1
        elif h_dir == 1:
            in_usd += h_usd

    last_own = state["last_own_ts"]
    if last_own is None:
        gap_s = _MAX_GAP_S
        if own:
            state["last_own_ts"] = ts
    else:
        gap_s = min(max(ts - last_own, 0) / 1000.0, _MAX_GAP_S)
        if own and ts > last_own:
            state["last_own_ts"] = ts
    age_days = max(ts - ev.wallet_created_ms, 0) / 86_400_000.0 if ev.wallet_known else 0.0
    tx_type = tx.tx_type
    geo = ev.geo_country
    home = ev.wallet_home_country
    log1p = math.log1p
    return [
        log1p(usd),
        1.0 if tx_type == "deposit" else 0.0,
        1.0 if tx_type == "withdrawal" else 0.0,
        1.0 if tx_type == "transfer" else 0.0,
        float(own5),
        float(own1h),
        log1p(out_usd),
        log1p(in_usd),
        min(out_usd / (in_usd + 1.0), 100.0),
        log1p(gap_s),
        float(len(cps)),
        float(small_out),
        float(near),
        log1p(age_days),
        float(ev.wallet_kyc_tier),
        1.0 if geo and home and geo != home else 0.0,
        1.0 if ev.counterparty_blocklist else 0.0,
        1.0 if ev.wallet_known else 0.0,
    ]
