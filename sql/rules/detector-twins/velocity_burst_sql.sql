-- id: velocity_burst_sql
-- severity: medium
-- description: many own events of one wallet within 5 min (OVER window count)
--
-- An OVER window counts the wallet's events in the 5 min (detectors.velocity_burst.window_ms)
-- up to each event; every min_count-th event of a burst alerts (the 10th, the 20th, ...), as
-- operators/velocity_burst.py does when the whole burst falls inside the window.
SELECT wallet_id, tx_id, event_time, score,
  CONCAT(CAST(n AS STRING), ' own events within 5 min') AS reason
FROM (
  SELECT wallet_id, tx_id, event_time, score,
    COUNT(tx_id) OVER (
      PARTITION BY wallet_id
      ORDER BY event_time
      RANGE BETWEEN INTERVAL '5' MINUTE PRECEDING AND CURRENT ROW
    ) AS n
  FROM enriched_events
)
WHERE MOD(n, ${detectors.velocity_burst.min_count}) = 0
