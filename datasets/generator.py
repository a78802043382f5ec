"""Deterministic synthetic crypto transactions with labelled fraud and realistic noise.

    python -m datasets.generator --events 1000000 --out /tmp/tx.csv --labels /tmp/labels.csv
    python -m datasets.generator --sample    # regenerate the committed sample files

The same arguments always give byte-identical output. Events are generated one hour of
event time at a time and written as soon as that hour is complete, so memory stays
bounded by an hour's events however many are requested. Progress goes to stderr.
See datasets/README.md for the columns, the noise and the injected typologies.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import time
from collections import Counter, deque
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from datasets import DATASETS_DIR, REFERENCE_DIR, ConfigError
from datasets.noise import (
    DUPLICATE_DELAY_MS,
    DUPLICATE_SHARE,
    MALFORMED_SHARE,
    OUT_OF_ORDER_DELAY_MS,
    OUT_OF_ORDER_SHARE,
    malformed,
)
from datasets.ordinary import BackgroundActivity
from datasets.population import build_population
from datasets.records import (
    MS_PER_DAY,
    MS_PER_HOUR,
    csv_header,
    csv_line,
    field_index,
    json_line,
    parse_date_ms,
    sub_seed,
    tx_id,
)
from datasets.refdata import Reference, load_reference
from datasets.typologies import (
    FraudKit,
    Instance,
    instances_per_typology,
    plan_instances,
)

DEFAULT_EVENTS = 40_000
DEFAULT_SEED = 7
DEFAULT_START = "2026-03-02"
# default population: one wallet per 40 records, at least 1 500 wallets
RECORDS_PER_WALLET = 40
MIN_WALLETS = 1_500
# default span: ordinary wallets average ~4.5 own events per day
EVENTS_PER_WALLET_DAY = 4.5
MIN_DAYS = 2

SAMPLE_TRANSACTIONS = DATASETS_DIR / "sample_transactions.csv"
SAMPLE_LABELS = DATASETS_DIR / "fraud_labels.csv"
SAMPLE_WALLETS = REFERENCE_DIR / "wallets.csv"

LABEL_FIELDS = (
    "record_no",
    "tx_id",
    "wallet_id",
    "typology",
    "instance_id",
    "noise",
    "expected_reason",
)
WALLET_FIELDS = ("wallet_id", "created_at", "kyc_tier", "home_country", "segment")

_TX_ID = field_index("tx_id")
_WALLET_ID = field_index("wallet_id")
# malformed records' tx ids: key = _MALFORMED_KEY_BASE + n (other ids use lower keys)
_MALFORMED_KEY_BASE = 2 << 62
_PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True)
class Config:
    """What to generate; `days` and `wallets` are derived from `events` when None."""

    events: int = DEFAULT_EVENTS
    seed: int = DEFAULT_SEED
    start: str = DEFAULT_START
    days: float | None = None
    wallets: int | None = None
    fmt: str = "csv"
    noise: bool = True
    fraud_rate: float = 1.0


@dataclass
class Stats:
    """What a run wrote."""

    rows: int = 0
    noise: Counter = field(default_factory=Counter)  # noise kind -> records
    instances: Counter = field(default_factory=Counter)  # typology -> instances written
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        noise = ", ".join(f"{k} {v:,}" for k, v in sorted(self.noise.items()))
        instances = ", ".join(f"{k} {v}" for k, v in sorted(self.instances.items()))
        return (
            f"wrote {self.rows:,} records in {self.seconds:.1f} s ({rate:,.0f} records/s); "
            f"noise: {noise or 'none'}; instances: {instances or 'none'}"
        )


@dataclass(frozen=True)
class _Span:
    """Derived size of a dataset."""

    wallets: int
    days: float
    start_ms: int
    end_ms: int
    valid_records: float  # expected records that are not duplicates or malformed


def _derive_span(config: Config, ref: Reference) -> _Span:
    """Population size and time span of `config`, checked against the price table."""
    if config.events < 0 or config.fraud_rate < 0:
        raise ConfigError("--events and --fraud-rate must be >= 0")
    if (config.days is not None and config.days <= 0) or (config.wallets or 2) < 2:
        raise ConfigError("--days must be > 0 and --wallets >= 2")
    try:
        start_ms = parse_date_ms(config.start)
    except ValueError as error:
        raise ConfigError(f"--start: {error}") from None
    noise_share = DUPLICATE_SHARE + MALFORMED_SHARE if config.noise else 0.0
    valid = config.events / (1 + noise_share)
    wallets = config.wallets or max(MIN_WALLETS, config.events // RECORDS_PER_WALLET)
    days = config.days or max(MIN_DAYS, round(valid / (wallets * EVENTS_PER_WALLET_DAY)))
    end_ms = start_ms + int(days * MS_PER_DAY)
    first, end = ref.price_range_ms()
    # a day of slack: the stream ends when the record count is reached, near end_ms
    if start_ms < first or end_ms + MS_PER_DAY > end:
        raise ConfigError(f"{config.start} + {days} days is outside the prices in prices.csv")
    return _Span(wallets, days, start_ms, end_ms, valid)


class _Emitter:
    """Writes records in emission order, adding duplicates and malformed records.

    The emission key is the event time, except for out-of-order events and duplicates,
    which carry a later one. Writing stops after `limit` records.
    """

    def __init__(self, out: TextIO, labels: TextIO | None, config: Config) -> None:
        self.out = out
        self.labels = labels
        self.fmt = config.fmt
        self.format_line = csv_line if config.fmt == "csv" else json_line
        self.limit = config.events
        self.noise = config.noise
        self.r = random.Random(sub_seed(config.seed, "noise"))
        self.salt = sub_seed(config.seed, "tx")
        self.heap: list = []
        self.seq = 0
        self.malformed_count = 0
        self.stats = Stats()
        self.instances_seen: set[tuple[str, str]] = set()
        self._lines: list[str] = []
        self._label_lines: list[str] = []

    @property
    def done(self) -> bool:
        return self.stats.rows >= self.limit

    def push(self, key: int, t: int, record: tuple, typology: str, instance: str, noise: str):
        """Queue a record (event time `t`) for emission at `key` (ms of event time)."""
        heapq.heappush(self.heap, (key, self.seq, t, record, typology, instance, noise))
        self.seq += 1

    def push_ordinary(self, t: int, record: tuple, late: bool) -> None:
        """Queue an ordinary event; `late` ones are emitted 1-50 s of event time later."""
        if late:
            key = t + self.r.randint(*OUT_OF_ORDER_DELAY_MS)
            self.push(key, t, record, "none", "", "out_of_order")
        else:
            self.push(t, t, record, "none", "", "")

    def emit_until(self, key_limit: int) -> None:
        """Write every queued record with an emission key below `key_limit`."""
        heap, r = self.heap, self.r
        while heap and heap[0][0] < key_limit and not self.done:
            _, _, t, record, typology, instance, noise = heapq.heappop(heap)
            line = self.format_line(record)
            self._write(line, record[_TX_ID], record[_WALLET_ID], typology, instance, noise)
            if not self.noise or noise == "duplicate":
                continue
            if r.random() < DUPLICATE_SHARE:
                # keyed by event time, so a duplicate is never later than 50 s either: a
                # late original's copy gets a key already passed and follows it at once
                delay = r.randint(*DUPLICATE_DELAY_MS)
                self.push(t + delay, t, record, typology, instance, "duplicate")
            if typology == "none" and r.random() < MALFORMED_SHARE and not self.done:
                self._write_malformed(record, t)
        self.out.write("".join(self._lines))
        self._lines.clear()
        if self.labels is not None:
            self.labels.write("".join(self._label_lines))
        self._label_lines.clear()

    def _write_malformed(self, template: tuple, t: int) -> None:
        new_id = tx_id(_MALFORMED_KEY_BASE + self.malformed_count, self.salt)
        self.malformed_count += 1
        bad = malformed(template, new_id, t, self.fmt, self.r)
        self._write(bad.line, bad.tx_id, bad.wallet_id, "none", "", "malformed", bad.reason)

    def _write(self, line, tx, wallet, typology, instance, noise, reason="") -> None:
        """Buffer one record and its label row (`tx`/`wallet` None when missing)."""
        stats = self.stats
        stats.rows += 1
        self._lines.append(line)
        if self.labels is not None:
            self._label_lines.append(
                f"{stats.rows},{tx or ''},{wallet or ''},{typology},{instance},{noise},{reason}\n"
            )
        if noise:
            stats.noise[noise] += 1
        if instance:
            self.instances_seen.add((typology, instance))


def generate(
    config: Config,
    out: TextIO,
    labels: TextIO | None = None,
    wallets_out: TextIO | None = None,
    log: TextIO | None = None,
) -> Stats:
    """Write `config.events` records to `out`, their labels to `labels` and the wallet
    metadata to `wallets_out` (when given). Progress and a summary go to `log`.

    Raises ConfigError when the configuration cannot produce a dataset.
    """
    began = time.monotonic()
    ref = load_reference()
    span = _derive_span(config, ref)
    pop = build_population(span.wallets, span.start_ms, span.end_ms, ref, config.seed)
    per_typology = instances_per_typology(config.events, config.fraud_rate)
    instances = plan_instances(per_typology, span.start_ms, span.end_ms, pop, ref, config.seed)
    pop.assign_ids()
    if wallets_out is not None:
        _write_wallets(wallets_out, pop.metadata_rows())
    ordinary_records = span.valid_records - sum(i.n_events for i in instances)
    background = BackgroundActivity(
        pop,
        ref,
        config.seed,
        events_per_hour=max(ordinary_records, 0.0) / (span.days * 24),
        out_of_order_share=OUT_OF_ORDER_SHARE if config.noise else 0.0,
    )
    emitter = _Emitter(out, labels, config)
    if config.fmt == "csv":
        out.write(csv_header())
    if labels is not None:
        labels.write(",".join(LABEL_FIELDS) + "\n")
    _stream(span, instances, FraudKit(pop, ref, config.seed), background, emitter, log, began)
    stats = emitter.stats
    stats.instances = Counter(typology for typology, _ in emitter.instances_seen)
    stats.seconds = time.monotonic() - began
    if log is not None:
        print(stats.summary(), file=log)
    return stats


def generate_files(
    config: Config,
    out: Path,
    labels: Path | None = None,
    wallets_out: Path | None = None,
) -> Stats:
    """`generate` into files (the training and benchmark commands' entry point)."""
    with ExitStack() as stack:
        handles = [
            stack.enter_context(open(p, "w", encoding="utf-8", newline="")) if p else None
            for p in (out, labels, wallets_out)
        ]
        return generate(config, handles[0], handles[1], handles[2])


def _stream(
    span: _Span,
    instances: list[Instance],
    kit: FraudKit,
    background: BackgroundActivity,
    emitter: _Emitter,
    log: TextIO | None,
    began: float,
) -> None:
    """Generate hour after hour of event time until the emitter has written enough."""
    pending = deque(instances)
    index = 0
    last_report = time.monotonic()
    price_end = kit.ref.price_range_ms()[1]
    while not emitter.done:
        start = span.start_ms + index * MS_PER_HOUR
        end = start + MS_PER_HOUR
        if end > price_end:
            # only when wallets are too few to act as often as the volume asks
            raise ConfigError("the data ran past the price table: raise --wallets or --days")
        while pending and pending[0].start_ms < end:
            instance = pending.popleft()
            for t, record in kit.records(instance):
                emitter.push(t, t, record, instance.typology, instance.instance_id, "")
        for t, record, late in background.slice_events(start, index):
            emitter.push_ordinary(t, record, late)
        emitter.emit_until(end)
        index += 1
        if log is not None and time.monotonic() - last_report >= _PROGRESS_EVERY_S:
            last_report = time.monotonic()
            rate = emitter.stats.rows / (last_report - began)
            print(f"{emitter.stats.rows:,} records ({rate:,.0f}/s)", file=log, flush=True)


def _write_wallets(handle: TextIO, rows: list[tuple]) -> None:
    handle.write(",".join(WALLET_FIELDS) + "\n")
    handle.write("".join(",".join(str(v) for v in row) + "\n" for row in rows))


def _open(stack: ExitStack, path: str | Path | None) -> TextIO | None:
    """A text handle for `path` ("-" is stdout), closed with `stack`; None for no path."""
    if path is None:
        return None
    if str(path) == "-":
        return sys.stdout
    return stack.enter_context(open(path, "w", encoding="utf-8", newline="", buffering=1 << 20))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m datasets.generator",
        description=__doc__.split("\n\n")[0],
    )
    # None marks "not given", so --sample can refuse options it would ignore
    parser.add_argument("--events", type=int, help=f"records to write [{DEFAULT_EVENTS}]")
    parser.add_argument("--seed", type=int, help=f"random seed [{DEFAULT_SEED}]")
    parser.add_argument("--start", help=f"first day, YYYY-MM-DD (UTC) [{DEFAULT_START}]")
    parser.add_argument("--days", type=float, help="span in days [~4.5 ordinary events/wallet/day]")
    parser.add_argument("--wallets", type=int, help="ordinary wallets [max(1500, events/40)]")
    parser.add_argument("--format", choices=("csv", "jsonl"), help="output format [csv]")
    parser.add_argument("--out", help="transactions file, - for stdout [-]")
    parser.add_argument("--labels", help="write the per-record labels CSV here")
    parser.add_argument("--wallets-out", help="write the wallet metadata CSV here")
    parser.add_argument(
        "--noise",
        action=argparse.BooleanOptionalAction,
        help="add duplicates, late and malformed records [on]",
    )
    parser.add_argument("--fraud-rate", type=float, help="scale of injected fraud instances [1.0]")
    parser.add_argument(
        "--sample",
        action="store_true",
        help="regenerate the committed sample_transactions.csv, fraud_labels.csv and "
        "reference/wallets.csv (with the defaults of every other option)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    return parser


def _config(args: argparse.Namespace) -> Config:
    given = {
        "events": args.events,
        "seed": args.seed,
        "start": args.start,
        "days": args.days,
        "wallets": args.wallets,
        "fmt": args.format,
        "noise": args.noise,
        "fraud_rate": args.fraud_rate,
    }
    return Config(**{k: v for k, v in given.items() if v is not None})


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = _parser()
    args = parser.parse_args(argv)
    config = _config(args)
    if args.sample:
        if config != Config() or args.out or args.labels or args.wallets_out:
            parser.error("--sample takes no other options: it always writes the committed sample")
        args.out, args.labels, args.wallets_out = SAMPLE_TRANSACTIONS, SAMPLE_LABELS, SAMPLE_WALLETS
    with ExitStack() as stack:
        try:
            generate(
                config,
                _open(stack, args.out or "-"),
                _open(stack, args.labels),
                _open(stack, args.wallets_out),
                log=None if args.quiet else sys.stderr,
            )
        except ConfigError as error:
            parser.error(str(error))


if __name__ == "__main__":
    main()
