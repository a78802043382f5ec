package io.fraudpipeline.kinesis;

import java.util.List;
import java.util.Objects;
import org.apache.flink.api.connector.source.SourceSplit;

/**
 * One shard of the stream, and where to read it from. A checkpoint stores the split with
 * {@link StartPosition#AFTER_SEQUENCE_NUMBER} and the last sequence number emitted, so a
 * restored job resumes exactly after the last record it had emitted.
 */
public final class KinesisShardSplit implements SourceSplit {
    /** No stop time: the split is read forever (until its shard is closed and drained). */
    public static final long UNBOUNDED = Long.MAX_VALUE;

    final String shardId;
    /** Parent and adjacent parent after a reshard: read to their end before this shard. */
    final List<String> parentShardIds;
    final StartPosition start;
    /** For AFTER_SEQUENCE_NUMBER. */
    final String startSequenceNumber;
    /** For AT_TIMESTAMP (epoch ms). */
    final long startTimestampMs;
    /** Bounded reads stop at the first record that arrived after this time (epoch ms). */
    final long stopAtArrivalMs;

    KinesisShardSplit(
            String shardId,
            List<String> parentShardIds,
            StartPosition start,
            String startSequenceNumber,
            long startTimestampMs,
            long stopAtArrivalMs) {
        this.shardId = Objects.requireNonNull(shardId);
        this.parentShardIds = List.copyOf(parentShardIds);
        this.start = Objects.requireNonNull(start);
        if (start == StartPosition.AFTER_SEQUENCE_NUMBER && startSequenceNumber == null) {
            throw new IllegalArgumentException("AFTER_SEQUENCE_NUMBER needs a sequence number");
        }
        this.startSequenceNumber = startSequenceNumber;
        this.startTimestampMs = startTimestampMs;
        this.stopAtArrivalMs = stopAtArrivalMs;
    }

    /** The same shard, resumed just after {@code sequenceNumber}. */
    KinesisShardSplit resumeAfter(String sequenceNumber) {
        if (sequenceNumber == null) {
            return this;
        }
        return new KinesisShardSplit(
                shardId,
                parentShardIds,
                StartPosition.AFTER_SEQUENCE_NUMBER,
                sequenceNumber,
                0L,
                stopAtArrivalMs);
    }

    @Override
    public String splitId() {
        return shardId;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof KinesisShardSplit)) {
            return false;
        }
        KinesisShardSplit s = (KinesisShardSplit) o;
        return shardId.equals(s.shardId)
                && parentShardIds.equals(s.parentShardIds)
                && start == s.start
                && Objects.equals(startSequenceNumber, s.startSequenceNumber)
                && startTimestampMs == s.startTimestampMs
                && stopAtArrivalMs == s.stopAtArrivalMs;
    }

    @Override
    public int hashCode() {
        return Objects.hash(shardId, start, startSequenceNumber, startTimestampMs, stopAtArrivalMs);
    }

    @Override
    public String toString() {
        return shardId + "@" + start + (startSequenceNumber == null ? "" : ":" + startSequenceNumber);
    }
}
