package io.fraudpipeline.kinesis;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

/**
 * Per shard, how far the reader is behind the tip of the stream: the {@code MillisBehindLatest}
 * of the shard's last GetRecords response, as a Flink gauge {@value #NAME} in the key/value
 * group {@code shard_id=<shard>} under the given group (the job's {@code metrics.group},
 * {@code kinesisanalytics} by default, which Managed Service for Apache Flink exports to
 * CloudWatch with {@code shard_id} as a dimension).
 *
 * <p>The fetcher thread sets the values; the metric reporter's thread reads them, hence the
 * atomics. A gauge is registered the first time its shard reports, so a shard that was never
 * read shows no number rather than a made-up zero. A finished shard (closed, or read to its
 * bounded end) reads 0: it has nothing left to read.
 */
final class ShardLagGauges {
    /** The gauge name, as Flink's Kinesis connectors spell it. */
    static final String NAME = "millisBehindLatest";
    /** The key of the key/value group holding one shard's gauge. */
    static final String SHARD_KEY = "shard_id";

    private final MetricGroup group;
    private final Map<String, AtomicLong> lags = new ConcurrentHashMap<>();

    ShardLagGauges(MetricGroup group) {
        this.group = group;
    }

    /** Record a GetRecords response's MillisBehindLatest (null: the response had none). */
    void update(String shardId, Long millisBehindLatest) {
        if (millisBehindLatest != null) {
            lag(shardId).set(millisBehindLatest);
        }
    }

    /** The shard has nothing left to read. */
    void finished(String shardId) {
        lag(shardId).set(0L);
    }

    /** For tests and logs: the last value of a shard, or null if it never reported. */
    Long value(String shardId) {
        AtomicLong lag = lags.get(shardId);
        return lag == null ? null : lag.get();
    }

    private AtomicLong lag(String shardId) {
        return lags.computeIfAbsent(
                shardId,
                id -> {
                    AtomicLong value = new AtomicLong();
                    group.addGroup(SHARD_KEY, id).gauge(NAME, (Gauge<Long>) value::get);
                    return value;
                });
    }
}
