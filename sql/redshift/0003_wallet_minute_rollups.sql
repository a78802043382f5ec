-- Per-wallet, per-minute rollups of scored_transactions: the model's windowed features
-- (counts and USD in/out over 5 min / 1 h / 24 h are sums over these rows) and cheap BI.
-- Refreshed by the loader inside each load's transaction: the minutes a file touched are
-- deleted and recomputed from scored_transactions, so a refresh is idempotent and late or
-- re-ordered files give the same result.
-- Same DISTKEY as scored_transactions (the refresh's INSERT ... SELECT ... GROUP BY
-- wallet_id runs slice-local); SORTKEY (minute, wallet_id) for time-range scans first.
-- The key is (minute, wallet_id), time first: each refresh writes one file's minutes, so
-- on PostgreSQL the key's btree grows at its right edge instead of taking random inserts
-- all over a wallet-ordered tree (which stops fitting in memory after a few million rows);
-- the training view's (wallet_id, minute) equality lookups use it just as well.
CREATE TABLE IF NOT EXISTS wallet_minute_rollups (
    wallet_id VARCHAR(128) NOT NULL ENCODE zstd,
    minute TIMESTAMP NOT NULL ENCODE raw,
    tx_count BIGINT NOT NULL ENCODE az64,
    alert_count BIGINT NOT NULL ENCODE az64,
    usd_total DOUBLE PRECISION ENCODE raw,
    -- money leaving the wallet (withdrawals, transfers) and arriving (deposits)
    usd_out DOUBLE PRECISION ENCODE raw,
    usd_in DOUBLE PRECISION ENCODE raw,
    max_score DOUBLE PRECISION ENCODE raw,
    distinct_counterparties BIGINT ENCODE az64,
    PRIMARY KEY (minute, wallet_id)
)
DISTSTYLE KEY
DISTKEY (wallet_id)
COMPOUND SORTKEY (minute, wallet_id);
