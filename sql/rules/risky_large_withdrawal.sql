-- id: risky_large_withdrawal
-- severity: high
-- description: a withdrawal of at least 20,000 USD that the model rates high risk
--
-- Scores each large withdrawal with the ONNX UDF fraud_score (udfs/scoring.py; only the
-- rows the inner WHERE keeps reach it) and grades it with risk_tier (udfs/risk.py: the
-- [decision] score thresholds, one tier up for an unverified wallet).
SELECT wallet_id, tx_id, event_time, model_score AS score, tier AS severity,
  CONCAT('withdrawal of ', CAST(CAST(amount_usd AS DECIMAL(18, 0)) AS STRING),
    ' USD, model score ', CAST(CAST(model_score AS DECIMAL(6, 3)) AS STRING)) AS reason
FROM (
  SELECT *, risk_tier(model_score, wallet_kyc_tier) AS tier
  FROM (
    SELECT wallet_id, tx_id, event_time, amount_usd, wallet_kyc_tier,
      fraud_score(
        f_log_amount_usd, f_is_deposit, f_is_withdrawal, f_is_transfer,
        f_own_count_5m, f_own_count_1h, f_log_out_usd_1h, f_log_in_usd_1h,
        f_out_in_ratio_1h, f_log_secs_since_prev, f_distinct_out_counterparties_1h, f_small_out_count_1h,
        f_near_threshold_count_24h, f_log_wallet_age_days, f_kyc_tier, f_country_mismatch,
        f_counterparty_blocklisted, f_wallet_known
      ) AS model_score
    FROM enriched_events
    WHERE tx_type = 'withdrawal' AND amount_usd >= 20000
  )
)
WHERE tier IN ('high', 'critical')
