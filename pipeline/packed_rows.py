"""The processed row as one packed value out of the keyed Python function.

A Python function that yields a 43-field `Row` pays, on the job's bottleneck thread,
PyFlink's converter per field and then pemja's Java object per field (README,
"Performance"). The function instead yields `marshal.dumps(values, 2)` (one C call, one
`bytes`, one Java `byte[]`), and `io.fraudpipeline.rows.MarshalRowDecoder`
(`src/main/java`), in the next task, turns it into a `Row` of `PROCESSED_ROW_TYPE`.
Marshal version 2 writes no back-references; the decoder reads the value kinds the
processed row uses (str, int, float, bool, None) and rejects anything else.
"""

from __future__ import annotations

import marshal

from pyflink.common import Types
from pyflink.datastream import DataStream
from pyflink.java_gateway import get_gateway

from .schemas import PROCESSED_ROW_TYPE

#: What the keyed function declares as its main output.
PACKED_ROW_TYPE = Types.PRIMITIVE_ARRAY(Types.BYTE())
MARSHAL_VERSION = 2


def pack_row(values: tuple) -> bytes:
    """`values` (a tuple of str, int, float, bool or None) as the decoder reads it.

    Unchecked, as it runs per record: marshal also packs other values (a numpy float as
    bytes, a list), which the decoder rejects, failing the job with the field's name.
    tests/pipeline/test_packed_rows.py checks the types of every row of the sample."""
    return marshal.dumps(values, MARSHAL_VERSION)


def unpack_row(packed: bytes) -> tuple:
    """The inverse of `pack_row` (tests, debugging)."""
    return marshal.loads(packed)


def decoded_rows(packed: DataStream, name: str = "decode-processed") -> DataStream:
    """`packed` (`PACKED_ROW_TYPE`) as `Row`s of `PROCESSED_ROW_TYPE`, by a JVM map
    operator (name and uid `name`), which chains to what consumes it."""
    gateway = get_gateway()
    decoder = gateway.jvm.io.fraudpipeline.rows.MarshalRowDecoder(
        PROCESSED_ROW_TYPE.get_java_type_info()
    )
    return DataStream(packed._j_data_stream.map(decoder).name(name).uid(name))
