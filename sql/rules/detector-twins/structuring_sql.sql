-- id: structuring_sql
-- severity: high
-- description: repeated deposits/withdrawals/transfers just below the reporting threshold within 24 h
--
-- A run of detectors.structuring.min_count own transactions with amount_usd in
-- [band_low_ratio x reporting_threshold_usd, reporting_threshold_usd) within 24 h
-- (detectors.structuring.window_ms), as operators/structuring.py; the alert is on the
-- transaction that completes the run, and a run is used once.
SELECT wallet_id, tx_id, event_time, score, reason
FROM (
  SELECT *
  FROM enriched_events
  WHERE tx_type IN ('deposit', 'withdrawal', 'transfer')
    AND amount_usd >= ${detectors.structuring.band_low_ratio} * ${detectors.structuring.reporting_threshold_usd}
    AND amount_usd < ${detectors.structuring.reporting_threshold_usd}
)
MATCH_RECOGNIZE (
  PARTITION BY wallet_id
  ORDER BY event_time
  MEASURES
    LAST(S.tx_id) AS tx_id,
    MATCH_ROWTIME() AS event_time,
    LAST(S.score) AS score,
    CONCAT(CAST(COUNT(S.tx_id) AS STRING), ' transactions just below ',
      CAST(${detectors.structuring.reporting_threshold_usd} AS STRING), ' USD within 24 h') AS reason
  ONE ROW PER MATCH
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (S{${detectors.structuring.min_count}}) WITHIN INTERVAL '24' HOUR
  DEFINE
    S AS S.amount_usd > 0
)
