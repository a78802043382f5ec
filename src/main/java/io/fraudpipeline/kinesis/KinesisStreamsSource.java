package io.fraudpipeline.kinesis;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * A FLIP-27 source reading one Kinesis data stream with GetRecords polling: split = shard,
 * checkpointed position = last sequence number emitted per shard. Records come out as
 * UTF-8 strings with their arrival time as the record timestamp.
 *
 * <p>It stands in for Flink's AWS connector (flink-connector-aws-kinesis-streams
 * 6.0.0-2.0), which the Maven mirror of the build machine does not serve. Build it with
 * {@link #builder()}.
 */
public final class KinesisStreamsSource
        implements Source<String, KinesisShardSplit, KinesisEnumeratorState>, ResultTypeQueryable<String> {
    private static final long serialVersionUID = 1L;

    private final KinesisSourceConfig config;

    KinesisStreamsSource(KinesisSourceConfig config) {
        this.config = config;
    }

    KinesisSourceConfig config() {
        return config;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public Boundedness getBoundedness() {
        return config.bounded ? Boundedness.BOUNDED : Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SplitEnumerator<KinesisShardSplit, KinesisEnumeratorState> createEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> context) {
        return new KinesisShardEnumerator(context, config, null);
    }

    @Override
    public SplitEnumerator<KinesisShardSplit, KinesisEnumeratorState> restoreEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> context, KinesisEnumeratorState state) {
        return new KinesisShardEnumerator(context, config, state);
    }

    @Override
    public SimpleVersionedSerializer<KinesisShardSplit> getSplitSerializer() {
        return KinesisShardSplitSerializer.INSTANCE;
    }

    @Override
    public SimpleVersionedSerializer<KinesisEnumeratorState> getEnumeratorCheckpointSerializer() {
        return KinesisEnumeratorState.Serializer.INSTANCE;
    }

    @Override
    public SourceReader<String, KinesisShardSplit> createReader(SourceReaderContext context) {
        return new KinesisSourceReader(config, context);
    }

    @Override
    public TypeInformation<String> getProducedType() {
        return Types.STRING;
    }

    @Override
    public String toString() {
        return config.toString();
    }

    /** Settings with the defaults of Flink's own Kinesis connector where it has one. */
    public static final class Builder {
        private String stream;
        private String region = "us-east-1";
        private String endpoint;
        private StartPosition startPosition = StartPosition.TRIM_HORIZON;
        private long startTimestampMs;
        private boolean bounded;
        private long shardDiscoveryIntervalMs = 10_000L;
        private long pollIntervalMs = 200L;
        private int maxRecordsPerPoll = 10_000;
        private boolean cborEnabled = true;
        private String metricGroup = "kinesisanalytics";
        private boolean originEnvelope;

        public Builder stream(String stream) {
            this.stream = stream;
            return this;
        }

        public Builder region(String region) {
            this.region = region;
            return this;
        }

        /** An endpoint override such as http://127.0.0.1:5000; empty or null for AWS. */
        public Builder endpoint(String endpoint) {
            this.endpoint = endpoint;
            return this;
        }

        /** TRIM_HORIZON, LATEST or AT_TIMESTAMP (case-insensitive). */
        public Builder startPosition(String position) {
            this.startPosition = StartPosition.valueOf(position.trim().toUpperCase(java.util.Locale.ROOT));
            return this;
        }

        public Builder startTimestampMs(long epochMs) {
            this.startTimestampMs = epochMs;
            return this;
        }

        /** Stop at the records that had arrived when the job first started. */
        public Builder bounded(boolean bounded) {
            this.bounded = bounded;
            return this;
        }

        public Builder shardDiscoveryIntervalMs(long ms) {
            this.shardDiscoveryIntervalMs = ms;
            return this;
        }

        public Builder pollIntervalMs(long ms) {
            this.pollIntervalMs = ms;
            return this;
        }

        public Builder maxRecordsPerPoll(int n) {
            this.maxRecordsPerPoll = n;
            return this;
        }

        /** Turn CBOR off for servers that only speak JSON (moto, kinesalite). */
        public Builder cborEnabled(boolean enabled) {
            this.cborEnabled = enabled;
            return this;
        }

        /** The group of the per-shard millisBehindLatest gauges (default kinesisanalytics). */
        public Builder metricGroup(String group) {
            this.metricGroup = group;
            return this;
        }

        /** Put each record's stream, shard and sequence number in front of it (for the DLQ). */
        public Builder originEnvelope(boolean enabled) {
            this.originEnvelope = enabled;
            return this;
        }

        public KinesisStreamsSource build() {
            return new KinesisStreamsSource(
                    new KinesisSourceConfig(
                            stream,
                            region,
                            endpoint,
                            startPosition,
                            startTimestampMs,
                            bounded,
                            shardDiscoveryIntervalMs,
                            pollIntervalMs,
                            maxRecordsPerPoll,
                            cborEnabled,
                            metricGroup,
                            originEnvelope));
        }
    }
}
