"""PyFlink writes hour-partitioned Parquet with the jars built from pom.xml.

One ``env.execute()`` runs a DataStream part (a FileSink of JSON lines) and a
Table API part (``filesystem`` connector, ``'format'='parquet'``,
``PARTITIONED BY (event_date, hour)``) attached to the same job through
``StatementSet.attach_as_datastream()``. The output is read back with pyarrow.

Needs Maven and a JDK 17: the connector jar is built on first use by
``pipeline.jars.ensure_jars()`` (``mvn -q -f pom.xml package -DskipTests``).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyflink.common import Configuration, Encoder, Row, Types
from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import (
    FileSink,
    OutputFileConfig,
    RollingPolicy,
)
from pyflink.table import DataTypes, Schema, StreamTableEnvironment

from pipeline.jars import MAVEN_COMMAND, PROJECT_ROOT, ensure_jars, pipeline_jars

pytestmark = pytest.mark.minicluster


def _ms(iso: str) -> int:
    """Epoch milliseconds of an ISO-8601 UTC timestamp."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


# (tx_id, wallet, amount_usd, event_ts_ms): the edges of hours and days are
# where a wrong time zone or an off-by-one in the partitioning would show.
EVENTS = [
    ("tx-1", "w-a", 10.5, _ms("2024-03-01T10:00:00.000")),
    ("tx-2", "w-b", 99.0, _ms("2024-03-01T10:30:00.123")),
    ("tx-3", "w-a", 0.01, _ms("2024-03-01T10:59:59.999")),
    ("tx-4", "w-c", 2500.0, _ms("2024-03-01T11:00:00.000")),
    ("tx-5", "w-b", 7.25, _ms("2024-03-01T11:45:10.000")),
    ("tx-6", "w-d", 1.0, _ms("2024-03-01T23:59:59.999")),
    ("tx-7", "w-a", 42.0, _ms("2024-03-02T00:00:00.000")),
]

EXPECTED_PARTITIONS = {
    ("2024-03-01", "10"): {"tx-1", "tx-2", "tx-3"},
    ("2024-03-01", "11"): {"tx-4", "tx-5"},
    ("2024-03-01", "23"): {"tx-6"},
    ("2024-03-02", "00"): {"tx-7"},
}

EVENT_TYPE = Types.ROW_NAMED(
    ["tx_id", "wallet", "amount_usd", "event_ts_ms"],
    [Types.STRING(), Types.STRING(), Types.DOUBLE(), Types.LONG()],
)


@pytest.fixture(scope="session")
def connector_jar() -> Path:
    """Build (once) and return the shaded connector jar, or fail clearly."""
    try:
        return ensure_jars()
    except RuntimeError as exc:
        pytest.fail(
            "cannot build the Flink connector jar with Maven, so the Parquet sink cannot be "
            f"tested: {exc}\nRun by hand in {PROJECT_ROOT}: {' '.join(MAVEN_COMMAND)}",
            pytrace=False,
        )


def _environments() -> tuple[StreamExecutionEnvironment, StreamTableEnvironment]:
    """A streaming env (parallelism 1, checkpoint every second) and its table env."""
    config = Configuration()
    # Workers are started as `python` from PATH otherwise (no pyflink there).
    config.set_string("python.executable", sys.executable)
    config.set_string("pipeline.jars", pipeline_jars())
    # With checkpointing on, Flink restarts a failing job forever by default:
    # a missing class would hang the test instead of failing it.
    config.set_string("restart-strategy.type", "none")
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
    env.set_parallelism(1)
    # The streaming filesystem sinks only publish files on checkpoints.
    env.enable_checkpointing(1000)
    t_env = StreamTableEnvironment.create(env)
    # DATE_FORMAT on a TIMESTAMP_LTZ renders it in the session time zone: pin
    # it so partitions are UTC dates/hours whatever the machine's zone is.
    t_env.get_config().set("table.local-time-zone", "UTC")
    return env, t_env


def _build_job(
    out: Path, sink_options: dict[str, str]
) -> tuple[StreamExecutionEnvironment, Path, Path]:
    """Wire the DataStream JSON sink and the Parquet table sink into one job."""
    env, t_env = _environments()
    json_dir, parquet_dir = out / "json", out / "parquet"

    events = env.from_collection([Row(*e) for e in EVENTS], type_info=EVENT_TYPE)

    # DataStream part: JSON lines through a FileSink.
    (
        events.map(
            lambda r: json.dumps(
                {"tx_id": r[0], "wallet": r[1], "amount_usd": r[2], "event_ts_ms": r[3]}
            ),
            output_type=Types.STRING(),
        ).sink_to(
            FileSink.for_row_format(str(json_dir), Encoder.simple_string_encoder("UTF-8"))
            .with_output_file_config(OutputFileConfig.builder().with_part_suffix(".jsonl").build())
            .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
            .build()
        )
    )

    # Table part: the same stream as a Table with an event-time column.
    schema = (
        Schema.new_builder()
        .column("tx_id", DataTypes.STRING())
        .column("wallet", DataTypes.STRING())
        .column("amount_usd", DataTypes.DOUBLE())
        .column("event_ts_ms", DataTypes.BIGINT())
        .column_by_expression("event_time", "TO_TIMESTAMP_LTZ(event_ts_ms, 3)")
        .build()
    )
    t_env.create_temporary_view("events", t_env.from_data_stream(events, schema))

    options = {
        "connector": "filesystem",
        "path": parquet_dir.as_uri(),
        "format": "parquet",
        **sink_options,
    }
    with_clause = ",\n".join(f"'{k}' = '{v}'" for k, v in options.items())
    # `hour` is a reserved word in Flink SQL: it must be back-quoted.
    t_env.execute_sql(
        f"""
        CREATE TEMPORARY TABLE parquet_events (
            tx_id STRING,
            wallet STRING,
            amount_usd DOUBLE,
            event_ts_ms BIGINT,
            event_time TIMESTAMP_LTZ(3),
            event_date STRING,
            `hour` STRING
        ) PARTITIONED BY (event_date, `hour`) WITH (
        {with_clause}
        )
        """
    )
    statements = t_env.create_statement_set()
    statements.add_insert_sql(
        """
        INSERT INTO parquet_events
        SELECT tx_id, wallet, amount_usd, event_ts_ms, event_time,
               DATE_FORMAT(event_time, 'yyyy-MM-dd') AS event_date,
               DATE_FORMAT(event_time, 'HH') AS `hour`
        FROM events
        """
    )
    # Adds the INSERT as transformations of `env`: one execute() runs both parts.
    statements.attach_as_datastream()
    return env, json_dir, parquet_dir


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _hidden_or_in_progress(root: Path) -> list[Path]:
    """Files that a reader must never see once the job is done."""
    return [
        p
        for p in _all_files(root)
        if (p.name.startswith((".", "_")) and p.name != "_SUCCESS") or "inprogress" in p.name
    ]


def _read_partitions(parquet_dir: Path) -> dict[tuple[str, str], list[dict]]:
    """Rows per (event_date, hour) folder, read file by file with pyarrow."""
    found: dict[tuple[str, str], list[dict]] = {}
    for date_dir in sorted(parquet_dir.iterdir()):
        if not date_dir.is_dir():
            continue
        assert date_dir.name.startswith("event_date="), date_dir
        for hour_dir in sorted(date_dir.iterdir()):
            assert hour_dir.is_dir() and hour_dir.name.startswith("hour="), hour_dir
            key = (date_dir.name.split("=", 1)[1], hour_dir.name.split("=", 1)[1])
            rows: list[dict] = []
            for f in sorted(hour_dir.iterdir()):
                if f.name.startswith((".", "_")):
                    continue
                rows.extend(pq.read_table(f).to_pylist())
            found[key] = rows
    return found


def _data_files(parquet_dir: Path) -> list[Path]:
    return [p for p in _all_files(parquet_dir) if not p.name.startswith((".", "_"))]


def _assert_parquet_output(parquet_dir: Path) -> dict[tuple[str, str], list[dict]]:
    assert parquet_dir.is_dir(), f"no Parquet output at {parquet_dir}"
    leftovers = _hidden_or_in_progress(parquet_dir)
    assert not leftovers, f"hidden/in-progress files left after the job: {leftovers}"

    found = _read_partitions(parquet_dir)
    assert set(found) == set(EXPECTED_PARTITIONS), f"partition folders: {sorted(found)}"
    for key, expected_ids in EXPECTED_PARTITIONS.items():
        ids = [r["tx_id"] for r in found[key]]
        assert sorted(ids) == sorted(expected_ids), f"{key}: {ids}"

    all_ids = Counter(r["tx_id"] for rows in found.values() for r in rows)
    assert all_ids == Counter(e[0] for e in EVENTS), f"each row once: {all_ids}"

    # Partition columns live in the folder names, not in the files.
    by_id = {r["tx_id"]: r for rows in found.values() for r in rows}
    for tx_id, wallet, amount, ts_ms in EVENTS:
        row = by_id[tx_id]
        assert "event_date" not in row and "hour" not in row
        assert row["wallet"] == wallet
        assert row["amount_usd"] == pytest.approx(amount)
        assert row["event_ts_ms"] == ts_ms
        # Flink writes TIMESTAMP_LTZ as INT96 (or, with
        # 'parquet.write.int64.timestamp', INT64 not adjusted to UTC): pyarrow
        # reads either as a naive timestamp holding the UTC wall-clock time.
        assert row["event_time"].replace(tzinfo=UTC) == datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return found


def test_one_job_writes_partitioned_parquet_and_json(connector_jar: Path, tmp_path: Path):
    """DataStream FileSink + Table filesystem/parquet sink in one execute()."""
    env, json_dir, parquet_dir = _build_job(
        tmp_path, {"sink.partition-commit.policy.kind": "success-file"}
    )
    env.execute("parquet-sink-test")

    _assert_parquet_output(parquet_dir)
    # The success-file commit policy marks every finished partition.
    for key in EXPECTED_PARTITIONS:
        marker = parquet_dir / f"event_date={key[0]}" / f"hour={key[1]}" / "_SUCCESS"
        assert marker.is_file(), f"no _SUCCESS in {marker.parent}"

    json_files = [p for p in _all_files(json_dir) if not p.name.startswith(".")]
    assert json_files and all(p.suffix == ".jsonl" for p in json_files), json_files
    assert not _hidden_or_in_progress(json_dir)
    lines = [json.loads(line) for p in json_files for line in p.read_text().splitlines()]
    assert sorted(r["tx_id"] for r in lines) == sorted(e[0] for e in EVENTS)


@pytest.mark.parametrize(
    "sink_options",
    [
        pytest.param(
            {
                "sink.rolling-policy.file-size": "1MB",
                "sink.rolling-policy.rollover-interval": "10 s",
                "sink.rolling-policy.check-interval": "1 s",
            },
            id="rolling-policy",
        ),
        pytest.param(
            {"auto-compaction": "true", "compaction.file-size": "1MB"},
            id="auto-compaction",
        ),
        pytest.param(
            {"parquet.write.int64.timestamp": "true", "parquet.timestamp.time.unit": "millis"},
            id="int64-timestamps",
        ),
    ],
)
def test_sink_options(connector_jar: Path, tmp_path: Path, sink_options: dict[str, str]):
    """Rolling, compaction and timestamp options of the filesystem/parquet sink."""
    env, _, parquet_dir = _build_job(tmp_path, sink_options)
    env.execute("parquet-sink-options-test")

    _assert_parquet_output(parquet_dir)
    data_files = _data_files(parquet_dir)
    if sink_options.get("auto-compaction") == "true":
        # Each checkpoint's files of a partition are merged into one 'compacted-*' file and
        # the uncompacted ones removed. How many checkpoints the rows span depends on the
        # machine's speed, so the count per partition is not asserted.
        assert all(p.name.startswith("compacted-") for p in data_files), data_files
    else:
        assert all(p.name.startswith("part-") for p in data_files), data_files

    column = pq.ParquetFile(data_files[0]).schema.column(
        pq.ParquetFile(data_files[0]).schema.names.index("event_time")
    )
    if sink_options.get("parquet.write.int64.timestamp") == "true":
        assert column.physical_type == "INT64"
        assert column.logical_type.to_json() == (
            '{"Type": "Timestamp", "isAdjustedToUTC": false, "timeUnit": "milliseconds", '
            '"is_from_converted_type": false, "force_set_converted_type": false}'
        )
    else:
        assert column.physical_type == "INT96"


def test_connector_jar_registers_table_factories(connector_jar: Path):
    """The shaded jar's merged service file lists the Kafka and Parquet factories."""
    import zipfile

    with zipfile.ZipFile(connector_jar) as jar:
        factories = jar.read("META-INF/services/org.apache.flink.table.factories.Factory")
        names = set(jar.namelist())
    lines = {line.strip() for line in factories.decode().splitlines() if line.strip()}
    assert "org.apache.flink.streaming.connectors.kafka.table.KafkaDynamicTableFactory" in lines
    assert "org.apache.flink.formats.parquet.ParquetFileFormatFactory" in lines
    # What the wheel already ships must not be shaded a second time.
    assert "org/apache/flink/connector/file/table/FileSystemTableFactory.class" not in names
    assert "org/apache/flink/formats/json/JsonFormatFactory.class" not in names
    assert "org/apache/flink/table/api/TableEnvironment.class" not in names
    assert not any(n.startswith("org/slf4j/") for n in names)


def test_kafka_table_sink_plans(connector_jar: Path):
    """A 'connector'='kafka' table is found and planned (no broker is contacted)."""
    _, t_env = _environments()
    t_env.execute_sql(
        """
        CREATE TEMPORARY TABLE kafka_alerts (tx_id STRING, score DOUBLE) WITH (
            'connector' = 'kafka',
            'topic' = 'alerts',
            'properties.bootstrap.servers' = '127.0.0.1:9',
            'format' = 'json'
        )
        """
    )
    plan = t_env.explain_sql("INSERT INTO kafka_alerts SELECT 'tx-1', CAST(0.5 AS DOUBLE)")
    assert "kafka_alerts" in plan
