"""The failure-injection suite's own local stack (own folder, own ports: it stops its
Kafka broker and freezes its S3), the 100k-event dataset every scenario sends, and the
table of outcomes printed at the end of the session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from tests.private_stack import private_stack

from .harness import Outcome, render_table

EVENTS = int(os.environ.get("FRAUD_FAILURE_EVENTS", "100000"))
OUTCOMES: list[Outcome] = []


@pytest.fixture(scope="module")
def failure_stack():
    """A stack of its own (tests/private_stack.py): the suite stops its Kafka broker and
    freezes its S3. Module-scoped: the tests that run after it in the same session
    (`make test`) must find the environment and `pipeline.stack` as they were."""
    with private_stack("failure-stack") as stack:
        yield stack


@dataclass(frozen=True)
class Dataset:
    lines: list[str]
    labels: Path
    wallets: Path


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> Dataset:
    """EVENTS generated records (JSON lines: ~1% resends, ~0.5% malformed, ~2% out of
    order, eight fraud typologies), shared by the scenarios."""
    from datasets.generator import Config, generate_files
    from pipeline.offline import iter_records

    d = tmp_path_factory.mktemp("failure-data")
    source, labels, wallets = d / "tx.jsonl", d / "labels.csv", d / "wallets.csv"
    generate_files(Config(events=EVENTS, seed=61, fmt="jsonl"), source, labels, wallets)
    return Dataset([line.rstrip("\n") for line in iter_records(source)], labels, wallets)


@pytest.fixture(scope="session")
def outcomes() -> list[Outcome]:
    return OUTCOMES


def pytest_terminal_summary(terminalreporter):
    if OUTCOMES:
        terminalreporter.write_sep("=", "failure injection: every output counted exactly")
        terminalreporter.write_line(render_table(OUTCOMES))
        report = PROJECT_ROOT / "out" / "failure-report.md"
        report.parent.mkdir(exist_ok=True)
        report.write_text(render_table(OUTCOMES) + "\n")
        terminalreporter.write_line(f"(also in {report})")
