-- Scored, enriched transactions: one row per row of the job's processed zone.
-- Written in Redshift's dialect; `python -m pipeline.warehouse migrate` runs it as is on
-- Redshift and translated with sqlglot on the local PostgreSQL stand-in (DISTKEY, SORTKEY,
-- DISTSTYLE and ENCODE are dropped there; 0007_local_indexes.local.sql replaces them).

-- Landing shape of one processed-zone Parquet file: exactly the job's PROCESSED_COLUMNS,
-- in file order (Redshift's COPY ... FORMAT AS PARQUET maps columns by position). The
-- loader copies each file into a session-private TEMP copy of this table (CREATE TEMP
-- TABLE ... (LIKE scored_transactions_stage)), then inserts into scored_transactions in the
-- same transaction as the ledger row. It never holds rows itself. A test checks that these
-- columns equal pipeline/schemas.py PROCESSED_COLUMNS.
CREATE TABLE IF NOT EXISTS scored_transactions_stage (
    tx_id VARCHAR(128),
    event_time_ms BIGINT,
    tx_type VARCHAR(16),
    wallet_id VARCHAR(128),
    counterparty_wallet VARCHAR(128),
    asset VARCHAR(16),
    amount DOUBLE PRECISION,
    amount_usd DOUBLE PRECISION,
    price_usd DOUBLE PRECISION,
    chain VARCHAR(32),
    tx_hash VARCHAR(256),
    venue VARCHAR(64),
    ip VARCHAR(64),
    country VARCHAR(8),
    geo_country VARCHAR(8),
    device_id VARCHAR(128),
    wallet_known BOOLEAN,
    wallet_kyc_tier INTEGER,
    score DOUBLE PRECISION,
    alerted BOOLEAN,
    rule_ids VARCHAR(512),
    severity VARCHAR(16),
    model_version VARCHAR(64),
    processed_at_ms BIGINT,
    processing_us INTEGER,
    f_log_amount_usd DOUBLE PRECISION,
    f_is_deposit DOUBLE PRECISION,
    f_is_withdrawal DOUBLE PRECISION,
    f_is_transfer DOUBLE PRECISION,
    f_own_count_5m DOUBLE PRECISION,
    f_own_count_1h DOUBLE PRECISION,
    f_log_out_usd_1h DOUBLE PRECISION,
    f_log_in_usd_1h DOUBLE PRECISION,
    f_out_in_ratio_1h DOUBLE PRECISION,
    f_log_secs_since_prev DOUBLE PRECISION,
    f_distinct_out_counterparties_1h DOUBLE PRECISION,
    f_small_out_count_1h DOUBLE PRECISION,
    f_near_threshold_count_24h DOUBLE PRECISION,
    f_log_wallet_age_days DOUBLE PRECISION,
    f_kyc_tier DOUBLE PRECISION,
    f_country_mismatch DOUBLE PRECISION,
    f_counterparty_blocklisted DOUBLE PRECISION,
    f_wallet_known DOUBLE PRECISION
)
-- Never holds data for long: EVEN is the cheapest distribution for a transient table.
DISTSTYLE EVEN;

-- The time-series fact table.
-- * DISTKEY (wallet_id): per-wallet questions (a wallet's history, joins with alerts and
--   the minute rollups, which share the key) stay on one slice, no redistribution. Wallets
--   are many and no single wallet dominates, so slices stay balanced.
-- * SORTKEY (event_time): almost every BI and training query restricts time ("last hour",
--   "today", "30 days"); zone maps on the sorted column let Redshift skip every block
--   outside the range. Files arrive roughly in event-time order, so the unsorted region
--   stays small between VACUUMs. event_time is a real TIMESTAMP (derived from
--   event_time_ms at load) so BI tools and date functions use it directly.
-- * ENCODE: the first sort-key column stays RAW (compressing it makes range-restricted
--   scans decode more blocks); AZ64 for numbers and timestamps (Redshift's codec for
--   them); ZSTD for free-form strings (ids, hashes, IPs); BYTEDICT for low-cardinality
--   strings (tx_type, asset, venue, country, severity: < 256 distinct values per block);
--   RAW for booleans (one bit already). Scores and features are doubles with high
--   entropy: AZ64 still helps on the many 0/1-valued features.
CREATE TABLE IF NOT EXISTS scored_transactions (
    tx_id VARCHAR(128) NOT NULL ENCODE zstd,
    event_time TIMESTAMP NOT NULL ENCODE raw,
    event_time_ms BIGINT NOT NULL ENCODE az64,
    tx_type VARCHAR(16) ENCODE bytedict,
    wallet_id VARCHAR(128) NOT NULL ENCODE zstd,
    counterparty_wallet VARCHAR(128) ENCODE zstd,
    asset VARCHAR(16) ENCODE bytedict,
    amount DOUBLE PRECISION ENCODE raw,
    amount_usd DOUBLE PRECISION ENCODE raw,
    price_usd DOUBLE PRECISION ENCODE raw,
    chain VARCHAR(32) ENCODE bytedict,
    tx_hash VARCHAR(256) ENCODE zstd,
    venue VARCHAR(64) ENCODE bytedict,
    ip VARCHAR(64) ENCODE zstd,
    country VARCHAR(8) ENCODE bytedict,
    geo_country VARCHAR(8) ENCODE bytedict,
    device_id VARCHAR(128) ENCODE zstd,
    wallet_known BOOLEAN ENCODE raw,
    wallet_kyc_tier INTEGER ENCODE az64,
    score DOUBLE PRECISION ENCODE raw,
    alerted BOOLEAN ENCODE raw,
    rule_ids VARCHAR(512) ENCODE zstd,
    severity VARCHAR(16) ENCODE bytedict,
    model_version VARCHAR(64) ENCODE bytedict,
    processed_at_ms BIGINT ENCODE az64,
    processing_us INTEGER ENCODE az64,
    f_log_amount_usd DOUBLE PRECISION ENCODE raw,
    f_is_deposit DOUBLE PRECISION ENCODE zstd,
    f_is_withdrawal DOUBLE PRECISION ENCODE zstd,
    f_is_transfer DOUBLE PRECISION ENCODE zstd,
    f_own_count_5m DOUBLE PRECISION ENCODE zstd,
    f_own_count_1h DOUBLE PRECISION ENCODE zstd,
    f_log_out_usd_1h DOUBLE PRECISION ENCODE raw,
    f_log_in_usd_1h DOUBLE PRECISION ENCODE raw,
    f_out_in_ratio_1h DOUBLE PRECISION ENCODE raw,
    f_log_secs_since_prev DOUBLE PRECISION ENCODE raw,
    f_distinct_out_counterparties_1h DOUBLE PRECISION ENCODE zstd,
    f_small_out_count_1h DOUBLE PRECISION ENCODE zstd,
    f_near_threshold_count_24h DOUBLE PRECISION ENCODE zstd,
    f_log_wallet_age_days DOUBLE PRECISION ENCODE raw,
    f_kyc_tier DOUBLE PRECISION ENCODE zstd,
    f_country_mismatch DOUBLE PRECISION ENCODE zstd,
    f_counterparty_blocklisted DOUBLE PRECISION ENCODE zstd,
    f_wallet_known DOUBLE PRECISION ENCODE zstd,
    -- which ledger entry (lake object) brought the row: lineage and exactly-once audits
    load_id BIGINT NOT NULL ENCODE az64
)
DISTSTYLE KEY
DISTKEY (wallet_id)
COMPOUND SORTKEY (event_time);
