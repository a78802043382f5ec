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
    history = state["history"]
    state["newest_ts"] = max(state["newest_ts"], ts)
    cutoff = state["newest_ts"] - HISTORY_MS
    if history and history[0][0] < cutoff:
        history[:] = [h for h in history if h[0] >= cutoff]
    own = not view.mirrored
    dir_code = _DIR_CODE.get(view.direction, 0)
    history.append((ts, dir_code, usd, view.counterparty, own))
    if len(history) > HISTORY_CAP:
        del history[: len(history) - HISTORY_CAP]

    own5 = own1h = small_out = near = 0
    out_usd = in_usd = 0.0
    cps = set()
    lo5, lo1h, lo24 = ts - _5M, ts - _1H, ts - HISTORY_MS
    for h_ts, h_dir, h_usd, h_cp, h_own in history:
        if h_ts > ts or h_ts < lo24:
            continue
        if h_own and _NEAR_LOW_USD <= h_usd < _NEAR_HIGH_USD and h_dir != 0:
            near += 1
        if h_ts < lo1h:
            continue
        if h_own:
            own1h += 1
            if h_ts >= lo5:
                own5 += 1
        if h_dir == -1:
            out_usd += h_usd
            if h_cp is not None:
                cps.add(h_cp)
            if h_usd <= _SMALL_USD:
                small_out += 1
        elif h_dir == 1:
            in_usd += h_usd

    last_own = state["last_own_ts"]
    gap_s = _MAX_GAP_S if last_own is None else min(max(ts - last_own, 0) / 1000.0, _MAX_GAP_S)
    if own and (last_own is None or ts > last_own):
        state["last_own_ts"] = ts
    age_days = max(ts - ev.wallet_created_ms, 0) / 86_400_000.0 if ev.wallet_known else 0.0
    tx_type = tx.tx_type
    return [
        math.log1p(usd),
        1.0 if tx_type == "deposit" else 0.0,
        1.0 if tx_type == "withdrawal" else 0.0,
        1.0 if tx_type == "transfer" else 0.0,
        float(own5),
        float(own1h),
        math.log1p(out_usd),
        math.log1p(in_usd),
        min(out_usd / (in_usd + 1.0), 100.0),
        math.log1p(gap_s),
        float(len(cps)),
        float(small_out),
        float(near),
        math.log1p(age_days),
        float(ev.wallet_kyc_tier),
        1.0
        if ev.geo_country and ev.wallet_home_country and ev.geo_country != ev.wallet_home_country
        else 0.0,
        1.0 if ev.counterparty_blocklist else 0.0,
        1.0 if ev.wallet_known else 0.0,
    ]
