package io.fraudpipeline.batch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.types.Row;
import org.junit.jupiter.api.Test;

class ShardBatcherTest {

    private static OneInputStreamOperatorTestHarness<Row, Row> harness(int shards, int maxBatch) throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h =
                new OneInputStreamOperatorTestHarness<>(new ShardBatcher(shards, maxBatch, 60_000L));
        h.open();
        return h;
    }

    private static StreamRecord<Row> record(String wallet, String raw, boolean mirrored) {
        return new StreamRecord<>(Row.of(wallet, raw, mirrored));
    }

    /** What the harness emitted, in order: "wm:<ts>" or "batch:<shard>:<raws>:<mirrored>:<sync>". */
    private static List<String> emitted(OneInputStreamOperatorTestHarness<Row, Row> h) {
        List<String> out = new ArrayList<>();
        for (Object o : h.getOutput()) {
            if (o instanceof Watermark) {
                out.add("wm:" + ((Watermark) o).getTimestamp());
            } else if (o instanceof StreamRecord) {
                Row keyed = (Row) ((StreamRecord<?>) o).getValue();
                Row batch = (Row) keyed.getField(1);
                assertEquals(keyed.getField(0), batch.getField(0));
                out.add("batch:" + batch.getField(0) + ":" + String.join("|", (String[]) batch.getField(2))
                        + ":" + batch.getField(3) + ":" + batch.getField(4));
            }
        }
        return out;
    }

    @Test
    void aFullShardIsEmittedInArrivalOrderWithItsMirroredFlags() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1, 3);
        h.processElement(record("w1", "a", false));
        h.processElement(record("w2", "b", true));
        assertTrue(emitted(h).isEmpty());
        h.processElement(record("w1", "c", false));
        assertEquals(List.of("batch:0:a|b|c:010:false"), emitted(h));
    }

    @Test
    void bufferedRecordsLeaveBeforeTheWatermarkThatFollowsThem() throws Exception {
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(1, 100);
        h.processElement(record("w1", "a", false));
        h.processElement(record("w2", "b", false));
        h.processWatermark(new Watermark(1_000L));
        assertEquals(List.of("batch:0:a|b:00:false", "wm:1000"), emitted(h));
    }

    @Test
    void everyShardGetsASyncBatchBeforeACheckpointBarrier() throws Exception {
        int shards = 4;
        OneInputStreamOperatorTestHarness<Row, Row> h = harness(shards, 100);
        h.processElement(record("w1", "a", false));
        h.prepareSnapshotPreBarrier(1L);
        List<String> out = emitted(h);
        assertEquals(shards, out.size());
        int shardOfW1 = ShardBatcher.shardOf("w1", shards);
        for (int shard = 0; shard < shards; shard++) {
            String raws = shard == shardOfW1 ? "a" : "";
            String flags = shard == shardOfW1 ? "0" : "";
            assertTrue(out.contains("batch:" + shard + ":" + raws + ":" + flags + ":true"), out.toString());
        }
    }

    @Test
    void shardOfIsStableAcrossRunsAndInRange() {
        // String.hashCode is fixed by the language spec: "w_000001".hashCode() never changes.
        assertEquals(Math.floorMod("w_000001".hashCode(), 32), ShardBatcher.shardOf("w_000001", 32));
        for (String w : new String[] {"", "w", "w_999999", "\u00e9\u00e8"}) {
            int s = ShardBatcher.shardOf(w, 7);
            assertTrue(s >= 0 && s < 7);
        }
        assertArrayEquals(new int[] {0}, new int[] {ShardBatcher.shardOf("anything", 1)});
    }
}
