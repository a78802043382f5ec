"""The keyed function's packed processed rows (pipeline/packed_rows.py): every row of the
bundled sample packs into values of exactly its column's type, and unpacks unchanged. The
JVM side (MarshalRowDecoder) has its JUnit test; the minicluster tests read its output back
from the processed zone."""

from __future__ import annotations

import math

import pytest

from pipeline.packed_rows import pack_row, unpack_row
from pipeline.schemas import PROCESSED_COLUMNS, processed_values
from tests.factories import sample_replay

# What the decoder accepts for each SQL type (MarshalRowDecoder.convert).
_PYTHON_TYPES = {
    "STRING": (str,),
    "BIGINT": (int,),
    "INT": (int,),
    "DOUBLE": (float, int),
    "BOOLEAN": (bool,),
}
_NOT_NULL = {"tx_id", "event_time_ms", "tx_type", "wallet_id", "score", "alerted"}


@pytest.fixture(scope="module")
def packed_sample():
    result = sample_replay()
    alerts = {a.tx_id: a for a in result.alerts}
    rows = []
    for scored, score in zip(result.scored, result.scores.tolist(), strict=True):
        alert = alerts.get(scored.view.event.tx.tx_id)
        values = processed_values(scored, score, alert, "gbt-test", 1_795_000_000_000, 42)
        rows.append((values, pack_row(values)))
    return rows


def test_every_sample_row_round_trips(packed_sample):
    assert len(packed_sample) > 30_000
    for values, packed in packed_sample:
        assert isinstance(packed, bytes)
        assert unpack_row(packed) == values


def test_every_value_has_its_columns_type(packed_sample):
    """`pack_row` checks nothing (it runs per record on the bottleneck thread), and marshal
    packs a numpy float as bytes or a list as a list: the JVM decoder would fail the job on
    them. Here such a value is caught with its column's name."""
    seen_null = set()
    for values, _ in packed_sample:
        assert len(values) == len(PROCESSED_COLUMNS)
        for (column, sql_type), value in zip(PROCESSED_COLUMNS, values, strict=True):
            if value is None:
                assert column not in _NOT_NULL, column
                seen_null.add(column)
                continue
            ok = _PYTHON_TYPES[sql_type]
            assert type(value) in ok, (column, type(value), value)
            if sql_type in ("BIGINT", "INT"):
                assert not isinstance(value, bool), column
                assert -(2**60) < value < 2**60, column  # the decoder's long range
            if sql_type == "INT":
                assert -(2**31) <= value < 2**31, column
            if sql_type == "DOUBLE":
                assert math.isfinite(value), (column, value)
    assert "severity" in seen_null  # rows without an alert carry NULL, not ""
