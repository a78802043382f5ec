-- id: blocklist_sql
-- severity: critical
-- description: a transaction with a blocklisted counterparty (sanctioned: critical, mixer: high)
--
-- A join with the reference table `blocklist` (datasets/reference/blocklist.csv), as
-- operators/blocklist.py. The time attribute is cast to a plain timestamp first: Flink
-- does not allow rowtime attributes in a regular join. STATE_TTL bounds the join state
-- kept for the stream side; the blocklist side is read once at start-up and kept.
SELECT /*+ STATE_TTL('e' = '1 h') */
  e.tx_id, e.wallet_id, e.event_time, e.score,
  CASE b.category WHEN 'sanctioned' THEN 'critical' ELSE 'high' END AS severity,
  CONCAT('counterparty ', e.counterparty_wallet, ' is on the blocklist (', b.category, ')')
    AS reason
FROM (
  SELECT tx_id, wallet_id, counterparty_wallet, score,
    CAST(event_time AS TIMESTAMP_LTZ(3)) AS event_time
  FROM enriched_events
  WHERE counterparty_wallet IS NOT NULL AND counterparty_wallet <> ''
) AS e
JOIN blocklist AS b ON e.counterparty_wallet = b.address
