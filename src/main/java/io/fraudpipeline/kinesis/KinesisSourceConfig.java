package io.fraudpipeline.kinesis;

import java.io.Serializable;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.KinesisClientBuilder;

/**
 * Everything the source needs to reach one stream; immutable and serializable, because it
 * travels with the job graph to the enumerator and every reader.
 */
public final class KinesisSourceConfig implements Serializable {
    private static final long serialVersionUID = 1L;

    final String stream;
    final String region;
    /** Endpoint override such as http://127.0.0.1:5000 (moto); null for AWS itself. */
    final String endpoint;
    final StartPosition startPosition;
    /** For {@link StartPosition#AT_TIMESTAMP}: epoch milliseconds. */
    final long startTimestampMs;
    /** Stop every shard at the records that had arrived when the job first started. */
    final boolean bounded;
    final long shardDiscoveryIntervalMs;
    /** Pause between two GetRecords calls on one shard (Kinesis allows 5 per second). */
    final long pollIntervalMs;
    final int maxRecordsPerPoll;
    /** CBOR must be off against moto and kinesalite, which only speak JSON. */
    final boolean cborEnabled;
    /** The metric group of the per-shard lag gauges (the job's metrics.group). */
    final String metricGroup;
    /** Emit records in an {@code io.fraudpipeline.origin.Origin} envelope (stream, shard, sequence). */
    final boolean originEnvelope;

    KinesisSourceConfig(
            String stream,
            String region,
            String endpoint,
            StartPosition startPosition,
            long startTimestampMs,
            boolean bounded,
            long shardDiscoveryIntervalMs,
            long pollIntervalMs,
            int maxRecordsPerPoll,
            boolean cborEnabled,
            String metricGroup,
            boolean originEnvelope) {
        this.stream = Objects.requireNonNull(stream, "stream");
        this.region = Objects.requireNonNull(region, "region");
        this.endpoint = endpoint == null || endpoint.isBlank() ? null : endpoint;
        this.startPosition = Objects.requireNonNull(startPosition, "startPosition");
        if (startPosition == StartPosition.AFTER_SEQUENCE_NUMBER) {
            throw new IllegalArgumentException("a source starts at TRIM_HORIZON, LATEST or AT_TIMESTAMP");
        }
        if (startPosition == StartPosition.AT_TIMESTAMP && startTimestampMs <= 0) {
            throw new IllegalArgumentException("AT_TIMESTAMP needs a start timestamp (epoch ms > 0)");
        }
        if (maxRecordsPerPoll < 1 || maxRecordsPerPoll > 10_000) {
            throw new IllegalArgumentException("maxRecordsPerPoll must be within 1..10000");
        }
        this.startTimestampMs = startTimestampMs;
        this.bounded = bounded;
        this.shardDiscoveryIntervalMs = shardDiscoveryIntervalMs;
        this.pollIntervalMs = pollIntervalMs;
        this.maxRecordsPerPoll = maxRecordsPerPoll;
        this.cborEnabled = cborEnabled;
        this.metricGroup = Objects.requireNonNull(metricGroup, "metricGroup");
        this.originEnvelope = originEnvelope;
    }

    /** A synchronous client: region and endpoint from this config, credentials from the default chain. */
    KinesisClient createClient() {
        if (!cborEnabled) {
            // The SDK reads this switch when it builds a client's protocol factory; it is
            // process-wide, which is fine for a JVM that only talks to one Kinesis.
            System.setProperty("aws.cborEnabled", "false");
        }
        KinesisClientBuilder builder =
                KinesisClient.builder()
                        .region(Region.of(region))
                        .credentialsProvider(DefaultCredentialsProvider.builder().build())
                        .httpClientBuilder(
                                ApacheHttpClient.builder()
                                        .connectionTimeout(Duration.ofSeconds(5))
                                        .socketTimeout(Duration.ofSeconds(30)))
                        .overrideConfiguration(
                                ClientOverrideConfiguration.builder()
                                        .apiCallTimeout(Duration.ofSeconds(60))
                                        .build());
        if (endpoint != null) {
            builder.endpointOverride(URI.create(endpoint));
        }
        return builder.build();
    }

    @Override
    public String toString() {
        return "kinesis:" + (endpoint == null ? "" : endpoint + "/") + stream + " (" + region + ")";
    }
}
