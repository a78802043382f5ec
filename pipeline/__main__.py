"""Command line: `python -m pipeline <command>`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the job on the local minicluster (embedded defaults)")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set flink.parallelism=2",
    )
    stream = sub.add_parser(
        "stream",
        help="run the job until stopped (e.g. an unbounded Kafka source); no clean-up, no summary",
    )
    stream.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    stream.add_argument(
        "--restore-latest",
        action="store_true",
        help="restart from the newest retained checkpoint in flink.checkpoint_dir",
    )
    config = sub.add_parser("config", help="print every config key, its env variable and value")
    config.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    sub.add_parser("jars", help="build the JVM connector jar and plugins (pom.xml) if needed")
    compile_ = sub.add_parser(
        "compile", help="compile the per-record Python modules with Cython if needed"
    )
    compile_.add_argument("--force", action="store_true", help="rebuild even if up to date")
    cds = sub.add_parser(
        "cds", help="build the JVM's class-data archive (faster job start-up) if needed"
    )
    cds.add_argument("--force", action="store_true", help="rebuild even if up to date")
    bench = sub.add_parser("bench", help="benchmark the job against the plain-Python baseline")
    bench.add_argument("--events", type=int, default=1_000_000)
    bench.add_argument(
        "--source",
        choices=("file", "kafka", "kinesis"),
        default="file",
        help="where the job reads the events: the file, or a Kafka topic / Kinesis stream of "
        "the local stack (Kinesis on moto: use --events 100000 or fewer)",
    )
    bench.add_argument(
        "--metrics-overhead",
        action="store_true",
        help="instead: the job with its metrics on vs off on one file (pipeline/metrics_bench.py)",
    )
    bench.add_argument("--rounds", type=int, default=1, help="--metrics-overhead: runs per side")
    rules = sub.add_parser("rules", help="SQL rules: check (plan every rule) or test (run one)")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="parse and plan every rule of [rules].dir")
    check.add_argument("--dir", type=Path, default=None, help="rules folder ([rules].dir)")
    check.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    test = rules_sub.add_parser("test", help="run one rule on a CSV of events, print its alerts")
    test.add_argument("file", type=Path, help="the rule (.sql), or a folder: every rule in it")
    test.add_argument("--events", type=Path, required=True, help="CSV in the dataset format")
    test.add_argument("--output", type=Path, default=None, help="write the alerts here too")
    test.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    dash = sub.add_parser("dashboard", help="write the self-contained HTML dashboard of a run")
    dash.add_argument("--out", default="out/dashboard.html")
    dash.add_argument("--samples", help="recorded metrics (default metrics.samples_file)")
    dash.add_argument("--run", help="the run's lake folder (default sink.output_dir)")
    dash.add_argument(
        "--no-warehouse",
        action="store_true",
        help="draw alerts, scores and wallets from the lake files, not the warehouse",
    )
    dash.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    from .config import effective_values, env_var_name, load_config, printable_value

    overrides = dict(kv.split("=", 1) for kv in getattr(args, "set", []))
    cfg = load_config(overrides)
    if args.command == "config":
        for key, value in effective_values(overrides).items():
            print(f"{key:<48} {env_var_name(key):<56} {printable_value(key, value)!r}")
        return 0
    if args.command == "jars":
        from .jars import ensure_jars

        print(ensure_jars())
        return 0
    if args.command == "compile":
        from .compile import ensure_compiled

        print(ensure_compiled(force=args.force))
        return 0
    if args.command == "cds":
        from .class_sharing import ensure_archive

        print(ensure_archive(force=args.force))
        return 0
    if args.command == "bench" and args.metrics_overhead:
        from .metrics_bench import main as metrics_bench_main

        return metrics_bench_main(args.events, args.rounds)
    if args.command == "bench":
        from .bench import main as bench_main

        return bench_main(args.events, args.source)
    if args.command == "stream":
        from .run import latest_checkpoint, stream_job

        if args.restore_latest:
            checkpoint = latest_checkpoint(cfg.resolve(cfg.flink.checkpoint_dir))
            if checkpoint is None:
                print(f"no retained checkpoint in {cfg.flink.checkpoint_dir}", file=sys.stderr)
                return 1
            print(f"restoring from {checkpoint}", file=sys.stderr)
            cfg = load_config({**overrides, "flink.restore_path": str(checkpoint)})
        stream_job(cfg)
        return 0
    if args.command == "rules":
        from .rules_cli import check_rules, test_rule

        if args.rules_command == "check":
            return check_rules(cfg, args.dir)
        return test_rule(cfg, args.file, args.events, args.output)
    if args.command == "dashboard":
        from .dashboard import main as dashboard_main

        return dashboard_main(
            cfg,
            cfg.resolve(args.out),
            Path(args.samples) if args.samples else None,
            Path(args.run) if args.run else None,
            not args.no_warehouse,
        )
    if args.command == "run":
        from .run import main as run_main

        return run_main(cfg)
    return 2


if __name__ == "__main__":
    sys.exit(main())
