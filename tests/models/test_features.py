"""Model features: one definition, FEATURE_NAMES order, event-time windows, bounded state."""

from __future__ import annotations

import json
import math
import pickle

import pytest

from models.features import (
    FEATURE_NAMES,
    HISTORY_CAP,
    HISTORY_MS,
    N_FEATURES,
    new_feature_state,
    update_and_compute,
)
from operators.event import EnrichedTransaction, WalletEvent, wallet_views
from tests.factories import (
    HOUR,
    MINUTE,
    SECOND,
    T0,
    components,
    make_enriched,
    make_tx,
    mirrored_view,
    own_view,
)

DAY = 24 * HOUR
CREATED = T0 - 365 * DAY  # make_enriched's wallet creation time


def named(vector: list[float]) -> dict[str, float]:
    assert len(vector) == N_FEATURES
    return dict(zip(FEATURE_NAMES, vector, strict=True))


def run(views: list[WalletEvent], state: dict | None = None) -> list[dict[str, float]]:
    state = new_feature_state() if state is None else state
    return [named(update_and_compute(state, v)) for v in views]


def view_of(event: EnrichedTransaction) -> WalletEvent:
    return wallet_views(event)[0]


# ---------------------------------------------------------------- shape and order


def test_feature_vector_length_equals_feature_names():
    vector = update_and_compute(new_feature_state(), own_view())

    assert len(vector) == len(FEATURE_NAMES) == N_FEATURES
    assert len(set(FEATURE_NAMES)) == N_FEATURES
    assert all(isinstance(x, float) and math.isfinite(x) for x in vector)


def test_each_position_holds_the_feature_its_name_says():
    deposit = own_view("deposit", ts=T0 - 10 * MINUTE, usd=30.0)
    blocked = make_enriched(tx_type="withdrawal", usd=50.0, blocklist="mixer", ts=T0)
    blocked.geo_country, blocked.wallet_home_country = "FR", "DE"

    f = run([deposit, view_of(blocked)])[-1]

    assert f == {
        "log_amount_usd": math.log1p(50.0),
        "is_deposit": 0.0,
        "is_withdrawal": 1.0,
        "is_transfer": 0.0,
        "own_count_5m": 1.0,
        "own_count_1h": 2.0,
        "log_out_usd_1h": math.log1p(50.0),
        "log_in_usd_1h": math.log1p(30.0),
        "out_in_ratio_1h": 50.0 / 31.0,
        "log_secs_since_prev": math.log1p(600.0),
        "distinct_out_counterparties_1h": 1.0,
        "small_out_count_1h": 0.0,
        "near_threshold_count_24h": 0.0,
        "log_wallet_age_days": math.log1p(365.0),
        "kyc_tier": 2.0,
        "country_mismatch": 1.0,
        "counterparty_blocklisted": 1.0,
        "wallet_known": 1.0,
    }


def test_out_in_ratio_is_capped_at_100():
    f = run([own_view("withdrawal", usd=250.0)])[0]

    assert f["out_in_ratio_1h"] == 100.0


def test_same_country_and_clean_counterparty_are_zero_flags():
    event = make_enriched(tx_type="withdrawal", ts=T0)
    event.geo_country = event.wallet_home_country = "DE"

    f = run([view_of(event)])[0]

    assert (f["country_mismatch"], f["counterparty_blocklisted"]) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("tx_type", "flags"),
    [
        ("trade", (0.0, 0.0, 0.0)),
        ("deposit", (1.0, 0.0, 0.0)),
        ("withdrawal", (0.0, 1.0, 0.0)),
        ("transfer", (0.0, 0.0, 1.0)),
    ],
)
def test_type_flags(tx_type, flags):
    f = run([own_view(tx_type)])[0]

    assert (f["is_deposit"], f["is_withdrawal"], f["is_transfer"]) == flags


def test_unknown_wallet_has_no_age_and_is_flagged_unknown():
    event = make_enriched(ts=T0)
    event.wallet_known, event.wallet_kyc_tier = False, 0

    f = run([view_of(event)])[0]

    assert (f["wallet_known"], f["log_wallet_age_days"], f["kyc_tier"]) == (0.0, 0.0, 0.0)


def test_model_and_its_card_take_the_features_in_this_order():
    cfg = components().cfg
    card = json.loads(cfg.resolve(cfg.model.version_file).read_text(encoding="utf-8"))

    assert tuple(card["features"]) == FEATURE_NAMES
    score = components().scorer.score_one(update_and_compute(new_feature_state(), own_view()))
    assert 0.0 <= score <= 1.0


# ---------------------------------------------------------------- windows


def test_own_count_5m_includes_an_event_exactly_5_minutes_earlier():
    f = run([own_view(ts=T0 - 5 * MINUTE), own_view(ts=T0)])[-1]

    assert f["own_count_5m"] == 2.0


def test_own_count_5m_excludes_an_event_5_minutes_and_1_ms_earlier():
    f = run([own_view(ts=T0 - 5 * MINUTE - 1), own_view(ts=T0)])[-1]

    assert (f["own_count_5m"], f["own_count_1h"]) == (1.0, 2.0)


def test_one_hour_window_includes_exactly_one_hour_and_excludes_one_ms_more():
    views = [
        own_view("withdrawal", ts=T0 - HOUR - 1, usd=1_000.0, counterparty="0xold"),
        own_view("withdrawal", ts=T0 - HOUR, usd=100.0, counterparty="0xedge"),
        own_view("deposit", ts=T0 - 30 * MINUTE, usd=50.0),
        own_view(ts=T0),
    ]

    f = run(views)[-1]

    assert f["own_count_1h"] == 3.0
    assert f["own_count_5m"] == 1.0
    assert f["log_out_usd_1h"] == pytest.approx(math.log1p(100.0))
    assert f["log_in_usd_1h"] == pytest.approx(math.log1p(50.0))
    assert f["out_in_ratio_1h"] == pytest.approx(100.0 / 51.0)
    assert f["distinct_out_counterparties_1h"] == 1.0


def test_counts_at_both_boundaries_over_a_regular_stream():
    # one own trade a minute: at any event, 6 own events in [t - 5 min, t], 61 in the hour
    f = run([own_view(ts=T0 + i * MINUTE) for i in range(120)])[-1]

    assert (f["own_count_5m"], f["own_count_1h"]) == (6.0, 61.0)


def test_mirrored_inbound_counts_as_inflow_but_not_as_an_own_event():
    f = run([mirrored_view(ts=T0 - MINUTE, usd=700.0), own_view("withdrawal", ts=T0, usd=70.0)])[-1]

    assert (f["own_count_5m"], f["own_count_1h"]) == (1.0, 1.0)
    assert f["log_in_usd_1h"] == pytest.approx(math.log1p(700.0))
    assert f["out_in_ratio_1h"] == pytest.approx(70.0 / 701.0)
    assert f["log_secs_since_prev"] == pytest.approx(math.log1p(7 * 86_400.0))


def test_small_outgoing_and_distinct_counterparties_in_the_hour():
    views = [
        own_view("withdrawal", ts=T0 + i * MINUTE, usd=usd, counterparty=f"0x{i % 3}")
        for i, usd in enumerate([1.0, 10.0, 10.01, 5.0, 500.0])
    ]

    f = run(views)[-1]

    assert f["small_out_count_1h"] == 3.0  # <= 10 USD
    assert f["distinct_out_counterparties_1h"] == 3.0


def test_near_threshold_count_covers_24_hours_of_own_in_and_out():
    views = [
        own_view("deposit", ts=T0 - DAY - 1, usd=9_000.0),  # just outside 24 h
        own_view("deposit", ts=T0 - DAY, usd=9_000.0),
        own_view("withdrawal", ts=T0 - 2 * HOUR, usd=8_500.0),
        own_view("withdrawal", ts=T0 - HOUR, usd=10_000.0),  # not below the threshold
        own_view("trade", ts=T0 - 30 * MINUTE, usd=9_500.0),  # trades do not count
        mirrored_view(ts=T0 - 20 * MINUTE, usd=9_500.0),  # not own
        own_view("transfer", ts=T0, usd=9_999.99),
    ]

    assert run(views)[-1]["near_threshold_count_24h"] == 3.0


def test_seconds_since_the_previous_own_event():
    f = run([own_view(ts=T0), own_view(ts=T0 + 90 * SECOND)])

    assert f[1]["log_secs_since_prev"] == pytest.approx(math.log1p(90.0))


# ---------------------------------------------------------------- order, bounds, determinism


def test_out_of_order_event_is_described_by_what_happened_before_it():
    early = own_view("withdrawal", ts=T0, usd=100.0, counterparty="0xa")
    later = own_view("withdrawal", ts=T0 + 10 * MINUTE, usd=5_000.0, counterparty="0xb")
    late = own_view("withdrawal", ts=T0 + 1 * MINUTE, usd=20.0, counterparty="0xc")

    f = run([early, later, late])[-1]
    in_order = run([early, late])[-1]

    for name in (
        "own_count_5m",
        "own_count_1h",
        "log_out_usd_1h",
        "log_in_usd_1h",
        "out_in_ratio_1h",
        "distinct_out_counterparties_1h",
        "small_out_count_1h",
        "near_threshold_count_24h",
    ):
        assert f[name] == in_order[name], name
    assert f["own_count_5m"] == 2.0
    assert f["log_out_usd_1h"] == pytest.approx(math.log1p(120.0))


def test_a_late_event_does_not_change_the_features_of_later_ones_already_computed():
    state = new_feature_state()
    first = run([own_view(ts=T0), own_view(ts=T0 + 10 * MINUTE)], state)
    run([own_view(ts=T0 + MINUTE)], state)

    assert first[1]["own_count_5m"] == 1.0


def test_history_stays_bounded_after_10k_events():
    state = new_feature_state()
    views = [
        own_view("withdrawal", ts=T0 + i * SECOND, usd=5.0, counterparty=f"0x{i}")
        for i in range(10_000)
    ]

    last = run(views, state)[-1]

    assert len(state["history"]) == HISTORY_CAP
    assert [h[0] for h in state["history"]][-1] == T0 + 9_999 * SECOND
    assert last["own_count_1h"] <= HISTORY_CAP
    assert last["distinct_out_counterparties_1h"] <= HISTORY_CAP


def test_history_drops_events_older_than_24_hours():
    state = new_feature_state()
    run([own_view(ts=T0 + i * HOUR) for i in range(60)], state)

    times = [h[0] for h in state["history"]]
    assert min(times) >= T0 + 59 * HOUR - HISTORY_MS
    assert len(times) == 25


def test_same_sequence_gives_the_same_features():
    def sequence():
        return [
            own_view("deposit", ts=T0, usd=12_000.0),
            mirrored_view(ts=T0 + 2 * MINUTE, usd=3_000.0, sender="w-a"),
            own_view("withdrawal", ts=T0 + 20 * MINUTE, usd=11_000.0, counterparty="0xz"),
            own_view("trade", ts=T0 + 5 * MINUTE, usd=40.0),
            own_view("transfer", ts=T0 + 25 * MINUTE, usd=9_100.0, counterparty="w-b"),
        ]

    assert run(sequence()) == run(sequence())


def test_features_survive_a_state_checkpoint_and_restore():
    views = [own_view("withdrawal", ts=T0 + i * 7 * MINUTE, usd=10.0 * i) for i in range(1, 30)]
    straight = run(views)

    state = new_feature_state()
    first = run(views[:12], state)
    restored = pickle.loads(pickle.dumps(state))
    assert first + run(views[12:], restored) == straight


def test_an_own_view_and_a_mirrored_view_of_one_transfer_differ_only_as_seen():
    tx = make_tx(tx_type="transfer", wallet="w-s", counterparty="w-r", usd=800.0, ts=T0)
    own, mirrored = wallet_views(make_enriched(tx))

    f_own, f_in = run([own])[0], run([mirrored])[0]

    assert f_own["log_out_usd_1h"] == f_in["log_in_usd_1h"] == pytest.approx(math.log1p(800.0))
    assert (f_own["own_count_1h"], f_in["own_count_1h"]) == (1.0, 0.0)
