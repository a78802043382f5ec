package io.fraudpipeline.kinesis;

import io.fraudpipeline.origin.Origin;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import software.amazon.awssdk.services.kinesis.model.Record;

/**
 * Emits a record's data as a UTF-8 string, stamped with its arrival time, and moves the
 * split's checkpointed position past it. Invalid UTF-8 decodes to U+FFFD, as Kafka's
 * SimpleStringSchema does, so such a record reaches the job's validation (and the DLQ,
 * with a reason) instead of failing the source. With {@code originEnvelope} the string carries
 * the stream, shard and sequence number in front ({@link Origin}), for the DLQ.
 */
final class KinesisRecordEmitter implements RecordEmitter<Record, String, KinesisShardSplitState> {
    private final String stream;
    private final boolean originEnvelope;

    KinesisRecordEmitter(String stream, boolean originEnvelope) {
        this.stream = stream;
        this.originEnvelope = originEnvelope;
    }

    @Override
    public void emitRecord(Record record, SourceOutput<String> output, KinesisShardSplitState state) {
        String value = new String(record.data().asByteArrayUnsafe(), StandardCharsets.UTF_8);
        if (originEnvelope) {
            value = Origin.kinesis(stream, state.split.shardId, record.sequenceNumber(), value);
        }
        Instant arrival = record.approximateArrivalTimestamp();
        if (arrival != null) {
            output.collect(value, arrival.toEpochMilli());
        } else {
            output.collect(value);
        }
        state.lastEmittedSequenceNumber = record.sequenceNumber();
    }
}
