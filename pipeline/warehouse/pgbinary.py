"""Arrow batches → PostgreSQL binary COPY stream, vectorised (no Python loop per row).

Binary COPY saves the server the text parsing of every number (float8in/strtod is most of
a text COPY's CPU on this table of 30 doubles) and the client the number formatting. Each
column becomes a binary array of "int32 length + big-endian value" (length -1 for NULL),
built with numpy and pyarrow compute; one `binary_join_element_wise` glues them into
tuples, whose contiguous data buffer is written as is. Format: PostgreSQL docs, "COPY —
Binary Format".
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
# microseconds from the Unix epoch to PostgreSQL's (2000-01-01)
_PG_EPOCH_US = 946_684_800_000_000

_FIXED = {
    pa.float64(): ">f8",
    pa.int64(): ">i8",
    pa.int32(): ">i4",
    pa.bool_(): "u1",
}


def _fixed_width(values: np.ndarray, be_dtype: str) -> pa.Array:
    """int32 length + value per row, as a binary array."""
    width = np.dtype(be_dtype).itemsize
    rec = np.empty(len(values), dtype=[("len", ">i4"), ("val", be_dtype)])
    rec["len"] = width
    rec["val"] = values
    raw = pa.py_buffer(rec.tobytes())
    fsb = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 + width), len(values), [None, raw])
    return fsb.cast(pa.binary())


def encode_column(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One column as binary COPY fields (length-prefixed, NULL as length -1)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    typ = col.type
    if pa.types.is_timestamp(typ):
        us = pc.multiply(
            col.cast(pa.int64()), {"s": 1_000_000, "ms": 1000, "us": 1, "ns": 0}[typ.unit]
        )
        if typ.unit == "ns":
            us = pc.divide(col.cast(pa.int64()), 1000)
        filled = pc.fill_null(us, 0).to_numpy(zero_copy_only=False) - _PG_EPOCH_US
        enc = _fixed_width(filled, ">i8")
    elif typ in _FIXED:
        fill = False if typ == pa.bool_() else 0
        filled = pc.fill_null(col, fill).to_numpy(zero_copy_only=False)
        enc = _fixed_width(filled, _FIXED[typ])
    elif pa.types.is_string(typ) or pa.types.is_binary(typ):
        data = col.cast(pa.binary())
        lengths = pc.fill_null(pc.binary_length(data), 0).to_numpy(zero_copy_only=False)
        prefix = np.asarray(lengths, dtype=">i4")
        prefix_arr = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(4), len(prefix), [None, pa.py_buffer(prefix.tobytes())]
        ).cast(pa.binary())
        enc = pc.binary_join_element_wise(prefix_arr, pc.fill_null(data, b""), b"")
    else:
        raise TypeError(f"no binary COPY encoding for Arrow type {typ}")
    if col.null_count:
        enc = pc.if_else(pc.is_null(col), pa.scalar(_NULL, pa.binary()), enc)
    return enc


def encode_table(table: pa.Table) -> pa.Buffer:
    """The tuples of `table` (no header/trailer) as one contiguous buffer."""
    n_fields = np.array([table.num_columns], dtype=">i2").tobytes()
    cols = [encode_column(table.column(i)) for i in range(table.num_columns)]
    rows = pc.binary_join_element_wise(pa.scalar(n_fields, pa.binary()), *cols, b"")
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    offsets = np.frombuffer(
        rows.buffers()[1], dtype=np.int32, count=len(rows) + 1, offset=rows.offset * 4
    )
    return rows.buffers()[2][offsets[0] : offsets[-1]]
