"""The warehouse: Redshift schema migrations and the exactly-once lake → warehouse loader.

`python -m pipeline.warehouse migrate|load|status|bench`. The SQL lives in
`sql/redshift/` (Redshift dialect); on the local PostgreSQL stand-in it is translated with
sqlglot (`translate.py`). Modules: `connect` (drivers, retry with backoff), `lake` (listing
committed objects in a folder or on S3), `ledger` (the load ledger), `loader` (one object
in one transaction), `methods` (binary COPY / Redshift COPY / INSERT), `partitions` (the
local day partitions), `lambda_handler` (S3 ObjectCreated events), `pgbouncer` (lets
redshift-connector reach PostgreSQL in tests), `bench`.
"""
