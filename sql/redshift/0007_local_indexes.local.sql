-- PostgreSQL only (files named *.local.sql are skipped on Redshift, which has no
-- indexes): what stands in for the sort and distribution keys on the local warehouse.
-- * BRIN on event_time: files arrive in event-time order, so heap order follows time and
--   a BRIN index (a few pages for millions of rows, almost free to maintain on COPY) lets
--   "last hour" / "today" scans skip every other block: the local zone map.
-- * btree (wallet_id, event_time): one wallet's history in a time range is an index range
--   scan instead of a scan of the whole day range: the DISTKEY + SORTKEY question.
-- * partial btree on alerted rows by time: "top risky wallets today" reads only the
--   (few percent) alerted rows.
CREATE INDEX IF NOT EXISTS scored_transactions_event_time_brin
    ON scored_transactions USING brin (event_time) WITH (pages_per_range = 32);
CREATE INDEX IF NOT EXISTS scored_transactions_wallet_time
    ON scored_transactions (wallet_id, event_time);
CREATE INDEX IF NOT EXISTS scored_transactions_alerted_time
    ON scored_transactions (event_time) WHERE alerted;
CREATE INDEX IF NOT EXISTS alerts_wallet_time ON alerts (wallet_id, event_time);
CREATE INDEX IF NOT EXISTS alerts_event_time_brin ON alerts USING brin (event_time);
CREATE INDEX IF NOT EXISTS wallet_minute_rollups_minute
    ON wallet_minute_rollups (minute);
