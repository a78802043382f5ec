-- One row per lake object version the loader has handled. The key is the object's URI and
-- its ETag (S3) or content MD5 (local files): a rewritten object is a new version and is
-- loaded again; the same version never is. The loader inserts this row in the same
-- transaction as the object's rows, so "rows present" and "ledger says loaded" cannot
-- disagree after a crash. Redshift does not enforce the primary key, so the loader takes
-- LOCK load_ledger at the start of each load transaction (serialising loaders).
-- status: loaded | quarantined (the object could not be read or its rows were rejected;
-- error says why; quarantined_to says where a copy was put). Small table: DISTSTYLE ALL.
CREATE TABLE IF NOT EXISTS load_ledger (
    object_key VARCHAR(1024) NOT NULL ENCODE zstd,
    etag VARCHAR(128) NOT NULL ENCODE zstd,
    target_table VARCHAR(64) NOT NULL ENCODE bytedict,
    load_id BIGINT NOT NULL ENCODE az64,
    status VARCHAR(16) NOT NULL ENCODE bytedict,
    row_count BIGINT NOT NULL ENCODE az64,
    size_bytes BIGINT ENCODE az64,
    min_event_time TIMESTAMP ENCODE az64,
    max_event_time TIMESTAMP ENCODE az64,
    error VARCHAR(4096) ENCODE zstd,
    quarantined_to VARCHAR(1024) ENCODE zstd,
    loaded_at TIMESTAMP NOT NULL DEFAULT GETDATE() ENCODE az64,
    PRIMARY KEY (object_key, etag)
)
DISTSTYLE ALL
SORTKEY (loaded_at);
