-- id: rapid_in_out_sql
-- severity: high
-- description: a large inbound (deposit or internal transfer) withdrawn again within 30 min
--
-- MATCH_RECOGNIZE over each wallet's views: an inbound of at least
-- detectors.rapid_in_out.min_deposit_usd, then (any events, then) an own withdrawal of at
-- least min_out_ratio of it, within 30 min (detectors.rapid_in_out.window_ms) of event time.
-- Same typology and thresholds as the Python detector operators/rapid_in_out.py.
SELECT wallet_id, tx_id, event_time, score, reason
FROM wallet_events
MATCH_RECOGNIZE (
  PARTITION BY view_wallet
  ORDER BY event_time
  MEASURES
    W.tx_id AS tx_id,
    W.wallet_id AS wallet_id,
    MATCH_ROWTIME() AS event_time,
    W.score AS score,
    CONCAT('withdrew ', CAST(CAST(W.amount_usd AS DECIMAL(18, 0)) AS STRING), ' USD of a ',
      CAST(CAST(I.amount_usd AS DECIMAL(18, 0)) AS STRING), ' USD inbound') AS reason
  ONE ROW PER MATCH
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (I X*? W) WITHIN INTERVAL '30' MINUTE
  DEFINE
    I AS I.direction = 'in' AND I.amount_usd >= ${detectors.rapid_in_out.min_deposit_usd},
    W AS NOT W.mirrored AND W.tx_type = 'withdrawal'
      AND W.amount_usd >= ${detectors.rapid_in_out.min_out_ratio} * I.amount_usd
)
