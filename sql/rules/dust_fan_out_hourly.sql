-- id: dust_fan_out_hourly
-- severity: medium
-- description: dust sent to many distinct addresses within one hour (TUMBLE window)
--
-- A TUMBLE window table-valued function counts, per hour of event time, the distinct
-- recipients of a wallet's outgoing withdrawals/transfers of at most
-- detectors.fan_out_dusting.max_dust_usd; at least min_distinct_counterparties alert, on the
-- last transaction the window received. A run split by an hour boundary can stay below the
-- count in both hours; the Python detector operators/fan_out_dusting.py (a sliding window per
-- transaction) catches those. LAST_VALUE cannot be merged across slices, so HOP/CUMULATE
-- windows would need another way to name the transaction (`rules check` reports that).
SELECT wallet_id,
  LAST_VALUE(tx_id) AS tx_id,
  MAX(CAST(event_time AS TIMESTAMP_LTZ(3))) AS event_time,
  MAX(score) AS score,
  CONCAT(CAST(COUNT(DISTINCT counterparty_wallet) AS STRING),
    ' distinct recipients of dust in the hour from ',
    DATE_FORMAT(window_start, 'yyyy-MM-dd HH:mm')) AS reason
FROM TABLE(TUMBLE(TABLE enriched_events, DESCRIPTOR(event_time), INTERVAL '1' HOUR))
WHERE tx_type IN ('withdrawal', 'transfer')
  AND amount_usd <= ${detectors.fan_out_dusting.max_dust_usd}
  AND counterparty_wallet IS NOT NULL AND counterparty_wallet <> ''
GROUP BY wallet_id, window_start, window_end
HAVING COUNT(DISTINCT counterparty_wallet) >= ${detectors.fan_out_dusting.min_distinct_counterparties}
