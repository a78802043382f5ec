-- PostgreSQL only (files named *.local.sql are skipped on Redshift, which has no
-- indexes): what stands in for the sort and distribution keys on the local warehouse.
-- * BRIN on event_time: files arrive in event-time order, so heap order follows time and
--   a BRIN index (a few pages for millions of rows, almost free to maintain on COPY) lets
--   "last hour" / "today" scans skip every other block: the local zone map.
-- * BRIN on DATE_TRUNC('HOUR', event_time): the BI view v_fraud_rate_hourly groups by that
--   expression; PostgreSQL pushes a dashboard's "hour >= …" filter below the GROUP BY, and
--   only an index on the same expression lets it skip blocks there. The expression must
--   match the translated view text exactly ('HOUR' upper case, as sqlglot writes it; a test
--   checks it), or the planner neither uses the index nor has statistics for it.
-- * btree (wallet_id, event_time): one wallet's history in a time range is an index range
--   scan instead of a scan of the whole time range: the DISTKEY + SORTKEY question.
-- * partial btree on alerted rows by time: "top risky wallets today" reads only the
--   (few percent) alerted rows.
-- BRIN ranges filled after the index was built are only summarised by VACUUM (or
-- autosummarize, which is asynchronous); until then every scan reads them. The loader
-- therefore summarises the new ranges itself after each load (brin_summarize_new_values),
-- so a table being loaded never degrades into full scans.
-- * rollups: the primary key (minute, wallet_id) serves the loader's refresh (DELETE of a
--   minute range) and the training view's lookups; BRIN on the day expression of
--   v_wallet_risk_daily.
CREATE INDEX IF NOT EXISTS scored_transactions_event_time_brin
    ON scored_transactions USING brin (event_time) WITH (pages_per_range = 32, autosummarize = on);
CREATE INDEX IF NOT EXISTS scored_transactions_hour_brin
    ON scored_transactions USING brin (DATE_TRUNC('HOUR', event_time))
    WITH (pages_per_range = 32, autosummarize = on);
CREATE INDEX IF NOT EXISTS scored_transactions_wallet_time
    ON scored_transactions (wallet_id, event_time);
CREATE INDEX IF NOT EXISTS scored_transactions_alerted_time
    ON scored_transactions (event_time) WHERE alerted;
CREATE INDEX IF NOT EXISTS alerts_wallet_time ON alerts (wallet_id, event_time);
CREATE INDEX IF NOT EXISTS alerts_event_time_brin ON alerts USING brin (event_time) WITH (autosummarize = on);
CREATE INDEX IF NOT EXISTS wallet_minute_rollups_day_brin
    ON wallet_minute_rollups USING brin (DATE_TRUNC('DAY', minute))
    WITH (pages_per_range = 32, autosummarize = on);
