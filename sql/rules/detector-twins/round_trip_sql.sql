-- id: round_trip_sql
-- severity: high
-- description: funds sent back (within 5 percent) to the wallet they came from within 1 h
--
-- Over each wallet's views: an inbound internal transfer from wallet C, then an own transfer
-- to C of at least detectors.round_trip.min_usd and within max_amount_diff_ratio of the
-- inbound, within 1 h (detectors.round_trip.window_ms), as operators/round_trip.py.
SELECT wallet_id, tx_id, event_time, score, reason
FROM wallet_events
MATCH_RECOGNIZE (
  PARTITION BY view_wallet
  ORDER BY event_time
  MEASURES
    R.tx_id AS tx_id,
    R.wallet_id AS wallet_id,
    MATCH_ROWTIME() AS event_time,
    R.score AS score,
    CONCAT('sent ', CAST(CAST(R.amount_usd AS DECIMAL(18, 0)) AS STRING),
      ' USD back to ', R.peer, ' after receiving ',
      CAST(CAST(I.amount_usd AS DECIMAL(18, 0)) AS STRING), ' USD') AS reason
  ONE ROW PER MATCH
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (I X*? R) WITHIN INTERVAL '1' HOUR
  DEFINE
    I AS I.mirrored AND I.tx_type = 'transfer' AND I.amount_usd > 0,
    R AS NOT R.mirrored AND R.tx_type = 'transfer' AND R.peer = I.peer
      AND R.amount_usd >= ${detectors.round_trip.min_usd}
      AND R.amount_usd >= (1 - ${detectors.round_trip.max_amount_diff_ratio}) * I.amount_usd
      AND R.amount_usd <= (1 + ${detectors.round_trip.max_amount_diff_ratio}) * I.amount_usd
)
