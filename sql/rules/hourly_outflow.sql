-- id: hourly_outflow
-- severity: medium
-- description: a wallet sends out at least 250,000 USD in one calendar hour (TUMBLE window)
--
-- A TUMBLE window table-valued function sums each wallet's outgoing USD (withdrawals and
-- internal transfers) per hour of event time; the alert names the last transaction the
-- window received. No Python detector has this typology.
SELECT wallet_id,
  LAST_VALUE(tx_id) AS tx_id,
  MAX(CAST(event_time AS TIMESTAMP_LTZ(3))) AS event_time,
  MAX(score) AS score,
  CONCAT(CAST(CAST(SUM(amount_usd) AS DECIMAL(18, 0)) AS STRING), ' USD out in ',
    CAST(COUNT(*) AS STRING), ' transactions within the hour from ',
    DATE_FORMAT(window_start, 'yyyy-MM-dd HH:mm')) AS reason
FROM TABLE(TUMBLE(TABLE enriched_events, DESCRIPTOR(event_time), INTERVAL '1' HOUR))
WHERE tx_type IN ('withdrawal', 'transfer')
GROUP BY wallet_id, window_start, window_end
HAVING SUM(amount_usd) >= 250000
