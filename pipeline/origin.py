"""Where a source record came from: the envelope the sources put in front of every record
(`src/main/java/io/fraudpipeline/origin/Origin.java`), and its fields for the DLQ record.

    \\x01k|<topic>|<partition>|<offset>\\x01<record>            Kafka
    \\x01s|<stream>|<shard id>|<sequence number>\\x01<record>   Kinesis
    \\x01f|<line>|<path>\\x01<record>                           a file (line numbers from 1)

The JVM strips it for the key extraction and the raw zone; the keyed function strips it per
record (`split_origin`) and parses it only for records it sends to the DLQ (`origin_fields`).
A record without an envelope (tests' in-memory sources) is its own payload.
"""

from __future__ import annotations

SEP = "\x01"


def split_origin(value: str) -> tuple[str | None, str]:
    """(the envelope's header, or None; the record without the envelope)."""
    if value[:1] != SEP:
        return None, value
    end = value.find(SEP, 1)
    if end < 0:
        return None, value
    return value[1:end], value[end + 1 :]


def origin_fields(header: str | None) -> dict | None:
    """The DLQ record's `origin` object for an envelope header (None when there is none)."""
    if not header:
        return None
    kind, _, rest = header.partition("|")
    if kind == "k":
        topic, partition, offset = rest.rsplit("|", 2)
        return {"kind": "kafka", "topic": topic, "partition": int(partition), "offset": int(offset)}
    if kind == "s":
        stream, shard_id, sequence = rest.rsplit("|", 2)
        return {
            "kind": "kinesis",
            "stream": stream,
            "shard_id": shard_id,
            "sequence_number": sequence,
        }
    if kind == "f":
        line, _, path = rest.partition("|")
        return {"kind": "file", "path": path, "line": int(line)}
    return None
