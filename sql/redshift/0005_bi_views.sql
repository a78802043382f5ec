-- Views for BI dashboards. Plain views (no materialisation): the sort key / indexes make
-- the time-restricted queries cheap; a dashboard filters on the time columns.

-- Fraud rate by hour, asset and venue: share of transactions that raised an alert.
CREATE OR REPLACE VIEW v_fraud_rate_hourly AS
SELECT
    DATE_TRUNC('hour', event_time) AS hour,
    asset,
    venue,
    COUNT(*) AS tx_count,
    SUM(CASE WHEN alerted THEN 1 ELSE 0 END) AS alert_count,
    SUM(CASE WHEN alerted THEN 1 ELSE 0 END)::DOUBLE PRECISION / COUNT(*) AS fraud_rate,
    SUM(amount_usd) AS usd_total,
    AVG(score) AS avg_score
FROM scored_transactions
GROUP BY 1, 2, 3;

-- Wallets by risk per day: alerts raised, highest score, USD moved. "Top risky wallets
-- today" is this view filtered on day and ordered by alert_count, max_score.
CREATE OR REPLACE VIEW v_wallet_risk_daily AS
SELECT
    DATE_TRUNC('day', minute) AS day,
    wallet_id,
    SUM(tx_count) AS tx_count,
    SUM(alert_count) AS alert_count,
    MAX(max_score) AS max_score,
    SUM(usd_total) AS usd_total,
    SUM(usd_out) AS usd_out,
    SUM(usd_in) AS usd_in
FROM wallet_minute_rollups
GROUP BY 1, 2;

-- Alerts per hour, rule and severity (rule_ids is an array: one row per alert here; the
-- first rule is the primary reason in the job's ordering).
CREATE OR REPLACE VIEW v_alerts_hourly AS
SELECT
    DATE_TRUNC('hour', event_time) AS hour,
    severity,
    COUNT(*) AS alert_count,
    AVG(score) AS avg_score
FROM alerts
GROUP BY 1, 2;
