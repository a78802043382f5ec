package io.fraudpipeline.kinesis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.junit.jupiter.api.Test;

class ShardLagGaugesTest {

    /** Keeps the gauges registered under it by "key=value/name", as a reporter would see them. */
    static final class RecordingGroup extends UnregisteredMetricsGroup {
        final Map<String, Gauge<?>> gauges;
        final String path;

        RecordingGroup(Map<String, Gauge<?>> gauges, String path) {
            this.gauges = gauges;
            this.path = path;
        }

        @Override
        public MetricGroup addGroup(String key, String value) {
            return new RecordingGroup(gauges, path + key + "=" + value + "/");
        }

        @Override
        public MetricGroup addGroup(String name) {
            return new RecordingGroup(gauges, path + name + "/");
        }

        @Override
        public <T, G extends Gauge<T>> G gauge(String name, G gauge) {
            gauges.put(path + name, gauge);
            return gauge;
        }
    }

    @Test
    void eachShardReportsItsLastMillisBehindLatestAsAGauge() {
        Map<String, Gauge<?>> gauges = new HashMap<>();
        ShardLagGauges lag = new ShardLagGauges(new RecordingGroup(gauges, "").addGroup("kinesisanalytics"));

        lag.update("shardId-000000000000", 42_000L);
        lag.update("shardId-000000000001", 7L);
        lag.update("shardId-000000000000", 1_500L); // the newest response wins

        Gauge<?> shard0 = gauges.get("kinesisanalytics/shard_id=shardId-000000000000/millisBehindLatest");
        Gauge<?> shard1 = gauges.get("kinesisanalytics/shard_id=shardId-000000000001/millisBehindLatest");
        assertEquals(1_500L, shard0.getValue());
        assertEquals(7L, shard1.getValue());
        assertEquals(2, gauges.size(), "one gauge per shard, registered once: " + gauges.keySet());
    }

    @Test
    void aResponseWithoutTheFieldKeepsTheLastValueAndRegistersNothing() {
        Map<String, Gauge<?>> gauges = new HashMap<>();
        ShardLagGauges lag = new ShardLagGauges(new RecordingGroup(gauges, ""));

        lag.update("shardId-000000000002", null);
        assertTrue(gauges.isEmpty(), "a shard that never reported has no gauge");
        assertNull(lag.value("shardId-000000000002"));

        lag.update("shardId-000000000002", 900L);
        lag.update("shardId-000000000002", null);
        assertEquals(900L, gauges.get("shard_id=shardId-000000000002/millisBehindLatest").getValue());
    }

    @Test
    void aFinishedShardReadsZero() {
        Map<String, Gauge<?>> gauges = new HashMap<>();
        ShardLagGauges lag = new ShardLagGauges(new RecordingGroup(gauges, ""));
        lag.update("shardId-000000000003", 60_000L);
        lag.finished("shardId-000000000003");
        assertEquals(0L, gauges.get("shard_id=shardId-000000000003/millisBehindLatest").getValue());
    }
}
