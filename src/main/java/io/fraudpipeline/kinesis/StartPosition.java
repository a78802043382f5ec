package io.fraudpipeline.kinesis;

/** Where a shard is read from when there is no checkpointed sequence number for it. */
public enum StartPosition {
    /** The oldest record still retained in the shard. */
    TRIM_HORIZON,
    /** Only records that arrive after the reader starts. */
    LATEST,
    /** The first record that arrived at or after a given time (epoch milliseconds). */
    AT_TIMESTAMP,
    /** Just after a sequence number: how a restored split resumes. */
    AFTER_SEQUENCE_NUMBER
}
