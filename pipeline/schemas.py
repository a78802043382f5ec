"""Row types at the job's boundaries: one list of fields, from which the Flink row type,
the processed-zone table DDL and the Python row builder all derive.
"""

from __future__ import annotations

from pyflink.common import Types

from models.features import FEATURE_NAMES
from operators.decide import Alert
from operators.wallet_risk import Scored

# (column, Flink SQL type). Features follow as f_<name> DOUBLE columns.
_BASE_COLUMNS = (
    ("tx_id", "STRING"),
    ("event_time_ms", "BIGINT"),
    ("tx_type", "STRING"),
    ("wallet_id", "STRING"),
    ("counterparty_wallet", "STRING"),
    ("asset", "STRING"),
    ("amount", "DOUBLE"),
    ("amount_usd", "DOUBLE"),
    ("price_usd", "DOUBLE"),
    ("chain", "STRING"),
    ("tx_hash", "STRING"),
    ("venue", "STRING"),
    ("ip", "STRING"),
    ("country", "STRING"),
    ("geo_country", "STRING"),
    ("device_id", "STRING"),
    ("wallet_known", "BOOLEAN"),
    ("wallet_kyc_tier", "INT"),
    ("score", "DOUBLE"),
    ("alerted", "BOOLEAN"),
    ("rule_ids", "STRING"),  # comma-separated, empty when no alert
    ("severity", "STRING"),
    ("model_version", "STRING"),
    ("processed_at_ms", "BIGINT"),
    ("processing_us", "INT"),  # keyed operator time per record of its micro-batch
)
PROCESSED_COLUMNS = _BASE_COLUMNS + tuple((f"f_{n}", "DOUBLE") for n in FEATURE_NAMES)
PROCESSED_FIELD_NAMES = [c for c, _ in PROCESSED_COLUMNS]

_FLINK_TYPES = {
    "STRING": Types.STRING,
    "BIGINT": Types.LONG,
    "DOUBLE": Types.DOUBLE,
    "BOOLEAN": Types.BOOLEAN,
    "INT": Types.INT,
}
PROCESSED_ROW_TYPE = Types.ROW_NAMED(
    PROCESSED_FIELD_NAMES, [_FLINK_TYPES[t]() for _, t in PROCESSED_COLUMNS]
)

# What the key extraction produces: the wallet key, the raw record, and whether it is the
# receiver's copy of a transfer.
KEYED_RECORD_TYPE = Types.ROW_NAMED(
    ["wallet", "raw", "mirrored"], [Types.STRING(), Types.STRING(), Types.BOOLEAN()]
)
# One micro-batch of one state shard (the ShardBatcher's output, the keyed Python
# function's input): the shard, parallel arrays of keys and raw records, one '0'/'1' per
# record, and whether the function must write its changed wallet states to Flink state
# now (sent to every shard before every checkpoint barrier).
SHARD_BATCH_TYPE = Types.ROW_NAMED(
    ["shard", "wallets", "raws", "mirrored", "sync"],
    [
        Types.INT(),
        Types.BASIC_ARRAY(Types.STRING()),
        Types.BASIC_ARRAY(Types.STRING()),
        Types.STRING(),
        Types.BOOLEAN(),
    ],
)
SHARD_KEYED_TYPE = Types.ROW_NAMED(["shard", "batch"], [Types.INT(), SHARD_BATCH_TYPE])


def processed_values(
    scored: Scored,
    score: float,
    alert: Alert | None,
    model_version: str,
    now_ms: int,
    processing_us: int,
) -> tuple:
    """The processed-zone row of one scored transaction, in `PROCESSED_COLUMNS` order."""
    ev = scored.view.event
    tx = ev.tx
    return (
        tx.tx_id,
        tx.event_time_ms,
        tx.tx_type,
        tx.wallet_id,
        tx.counterparty_wallet,
        tx.asset,
        tx.amount,
        ev.amount_usd,
        ev.price_usd,
        tx.chain,
        tx.tx_hash,
        tx.venue,
        tx.ip,
        tx.country,
        ev.geo_country,
        tx.device_id,
        ev.wallet_known,
        ev.wallet_kyc_tier,
        score,
        alert is not None,
        ",".join(alert.rule_ids) if alert else "",
        alert.severity if alert else None,
        model_version,
        now_ms,
        processing_us,
        *scored.features,
    )


def processed_table_ddl(
    name: str,
    path: str,
    target_file_size_mb: int,
    rollover_interval_ms: int,
    auto_compaction: bool,
    dictionary: bool,
) -> str:
    """Filesystem table of the processed zone: Parquet partitioned by event date and hour.

    Parquet is a bulk format: a part file is closed at every checkpoint, so each subtask
    writes at most one file per partition per checkpoint (sooner if it reaches the target
    size or the rollover interval). With auto-compaction the files a checkpoint produced
    in a partition (all subtasks) are merged into files of up to the target size before
    they become visible ('compacted-part-…'); files of different checkpoints are not
    merged, so the checkpoint interval sets the smallest file size (README, Data lake).

    `dictionary`: Parquet's dictionary encoding (one switch for all columns in Flink's
    writer). Off, the writer spends ~20% less CPU per row and the files are ~11% larger
    (`make bench`, README "Performance").
    """
    cols = ",\n  ".join(f"`{c}` {t}" for c, t in PROCESSED_COLUMNS)
    compaction = (
        f""",
  'auto-compaction' = 'true',
  'compaction.file-size' = '{target_file_size_mb}MB'"""
        if auto_compaction
        else ""
    )
    return f"""
CREATE TABLE `{name}` (
  {cols},
  `event_date` STRING,
  `hour` STRING
) PARTITIONED BY (`event_date`, `hour`) WITH (
  'connector' = 'filesystem',
  'path' = '{path}',
  'format' = 'parquet',
  'parquet.enable.dictionary' = '{str(dictionary).lower()}',
  'sink.rolling-policy.file-size' = '{target_file_size_mb}MB',
  'sink.rolling-policy.rollover-interval' = '{rollover_interval_ms} ms',
  'sink.partition-commit.policy.kind' = 'success-file'{compaction}
)"""
