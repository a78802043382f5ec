"""The synthetic producers read the generator through a pipe widened to 1 MB, so the
generator runs ahead of the producer instead of stopping at its every pause."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from pipeline import producers


def test_the_generator_pipe_holds_a_megabyte():
    r, w = os.pipe()
    try:
        assert fcntl.fcntl(r, fcntl.F_GETPIPE_SZ) == 64 << 10  # Linux's default
        producers._widen_pipe(r)
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert fcntl.fcntl(r, fcntl.F_GETPIPE_SZ) == min(limit, 1 << 20)
    finally:
        os.close(r)
        os.close(w)


def test_generated_lines_stream_whole_records_through_the_pipe():
    lines = list(producers.generated_lines(3_000, seed=4))
    assert len(lines) == 3_000
    parsed = [producers.json_event(line) for line in lines]
    assert sum(e.tx_id is not None for e in parsed) > 2_900  # a few malformed on purpose
