-- Alerts as the job publishes them (contracts/alert.v1.schema.json), one row per alert.
-- DISTKEY (wallet_id) co-locates alerts with the wallet's transactions and rollups;
-- SORTKEY (event_time) for the same time-restricted scans as scored_transactions.
-- rule_ids and features keep the contract's JSON shape in SUPER columns (PartiQL can
-- unnest them on Redshift; jsonb on the PostgreSQL stand-in).
CREATE TABLE IF NOT EXISTS alerts (
    alert_id VARCHAR(64) NOT NULL ENCODE zstd,
    tx_id VARCHAR(128) NOT NULL ENCODE zstd,
    wallet_id VARCHAR(128) NOT NULL ENCODE zstd,
    event_time TIMESTAMP NOT NULL ENCODE raw,
    detected_at TIMESTAMP NOT NULL ENCODE az64,
    rule_ids SUPER,
    severity VARCHAR(16) NOT NULL ENCODE bytedict,
    score DOUBLE PRECISION ENCODE raw,
    model_version VARCHAR(64) ENCODE bytedict,
    rules_version VARCHAR(64) ENCODE bytedict,
    features SUPER,
    load_id BIGINT NOT NULL ENCODE az64,
    -- informational on Redshift (not enforced; the ledger is what prevents doubles),
    -- enforced on PostgreSQL
    PRIMARY KEY (alert_id)
)
DISTSTYLE KEY
DISTKEY (wallet_id)
COMPOUND SORTKEY (event_time);

-- Landing shape of one alerts JSON-lines object (COPY ... FORMAT AS JSON 'auto' matches
-- keys to these column names); session-private TEMP copies only, like
-- scored_transactions_stage.
CREATE TABLE IF NOT EXISTS alerts_stage (
    alert_id VARCHAR(64),
    tx_id VARCHAR(128),
    wallet_id VARCHAR(128),
    event_time TIMESTAMP,
    detected_at TIMESTAMP,
    rule_ids SUPER,
    severity VARCHAR(16),
    score DOUBLE PRECISION,
    model_version VARCHAR(64),
    rules_version VARCHAR(64),
    features SUPER
)
DISTSTYLE EVEN;
