-- The model's training set: the 18 features the job computed (models/features.py, same
-- code in training and streaming), the decision, and the event time for time-based
-- train/test splits. Labels come from investigations (not in this warehouse yet); until
-- then `alerted` and rule_ids are the weak labels. wallet_id is kept so splits can be made
-- by wallet.
CREATE OR REPLACE VIEW v_model_training AS
SELECT
    t.event_time,
    t.wallet_id,
    t.tx_id,
    t.tx_type,
    t.asset,
    t.amount_usd,
    t.f_log_amount_usd,
    t.f_is_deposit,
    t.f_is_withdrawal,
    t.f_is_transfer,
    t.f_own_count_5m,
    t.f_own_count_1h,
    t.f_log_out_usd_1h,
    t.f_log_in_usd_1h,
    t.f_out_in_ratio_1h,
    t.f_log_secs_since_prev,
    t.f_distinct_out_counterparties_1h,
    t.f_small_out_count_1h,
    t.f_near_threshold_count_24h,
    t.f_log_wallet_age_days,
    t.f_kyc_tier,
    t.f_country_mismatch,
    t.f_counterparty_blocklisted,
    t.f_wallet_known,
    t.score,
    t.model_version,
    t.alerted,
    t.rule_ids,
    r.tx_count AS wallet_minute_tx_count,
    r.usd_out AS wallet_minute_usd_out,
    r.usd_in AS wallet_minute_usd_in
FROM scored_transactions AS t
LEFT JOIN wallet_minute_rollups AS r
    ON r.wallet_id = t.wallet_id AND r.minute = DATE_TRUNC('minute', t.event_time);
