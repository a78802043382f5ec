"""python -m pipeline.warehouse migrate | load [--watch] | status | bench [--rows N]"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from pipeline.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.warehouse", description=__doc__)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set warehouse.schema=dev",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply sql/redshift migrations (idempotent)")
    load = sub.add_parser("load", help="load committed lake objects not yet in the ledger")
    load.add_argument("--watch", action="store_true", help="keep polling (daemon)")
    load.add_argument("--max-polls", type=int, default=0, help="stop after N polls (0 = never)")
    sub.add_parser("status", help="ledger summary and table row counts")
    bench = sub.add_parser("bench", help="load N synthetic rows, time BI queries")
    bench.add_argument("--rows", type=int, default=10_000_000)
    bench.add_argument("--days", type=int, default=14, help="event-time span of the rows")
    bench.add_argument("--wallets", type=int, default=200_000)
    bench.add_argument(
        "--baseline-rows",
        type=int,
        default=100_000,
        help="rows loaded with executemany INSERT for comparison",
    )
    bench.add_argument("--runs", type=int, default=7, help="runs of each query")
    bench.add_argument("--keep", action="store_true", help="keep the bench schema afterwards")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO if args.verbose or args.command == "load" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        cfg = load_config(dict(kv.split("=", 1) for kv in args.set))
    except (ConfigError, ValueError) as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    wcfg = cfg.warehouse

    from pipeline.warehouse.session import open_session

    if args.command == "migrate":
        from pipeline.warehouse.migrate import migrate

        session = open_session(wcfg)
        applied = migrate(session)
        session.close()
        print(f"schema {wcfg.schema}: applied {applied or 'nothing (up to date)'}")
        return 0
    if args.command == "load":
        from pipeline.warehouse.lake import open_lake
        from pipeline.warehouse.loader import Loader

        loader = Loader(wcfg, open_lake(wcfg))
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        report = loader.watch(stop, args.max_polls) if args.watch else loader.run_once()
        loader.close()
        print(
            f"loaded {report.count('loaded')} objects ({report.rows:,} rows), "
            f"quarantined {report.count('quarantined')}, skipped {report.count('skipped')}"
        )
        return 0
    if args.command == "status":
        session = open_session(wcfg)
        rows = session.query(
            "SELECT target_table, status, COUNT(*), SUM(row_count) FROM load_ledger"
            " GROUP BY 1, 2 ORDER BY 1, 2"
        )
        for table, status, n, total in rows:
            print(f"{table:22} {status:12} {n:8,} objects {int(total or 0):14,} rows")
        for table in ("scored_transactions", "alerts", "wallet_minute_rollups"):
            print(f"{table:22} {session.query(f'SELECT COUNT(*) FROM {table}')[0][0]:,} rows")
        session.close()
        return 0
    if args.command == "bench":
        from pipeline.warehouse.bench import run_bench

        return run_bench(cfg, args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
