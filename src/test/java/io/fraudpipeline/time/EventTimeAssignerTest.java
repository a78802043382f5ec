package io.fraudpipeline.time;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class EventTimeAssignerTest {
    private static final long T = 1772409605340L; // 2026-03-02T00:00:05.340Z

    @Test
    void readsIsoAndEpochMillisFromJson() {
        EventTimeAssigner json = new EventTimeAssigner(false);
        assertEquals(T, json.extractTimestamp("{\"tx_id\":\"a\",\"event_time\":\"2026-03-02T00:00:05.340Z\"}", 0L));
        assertEquals(T, json.extractTimestamp("{\"event_time\": " + T + ", \"x\": 1}", 0L));
        assertEquals(T, json.extractTimestamp("{\"event_time\":\"2026-03-02T00:00:05.340+00:00\"}", 0L));
    }

    @Test
    void readsThePayloadOfAnOriginEnvelope() {
        EventTimeAssigner csv = new EventTimeAssigner(true);
        String line = "tx_1,2026-03-02T00:00:05.340Z,trade,w_1";
        assertEquals(T, csv.extractTimestamp(io.fraudpipeline.origin.Origin.file("/data/a,b.csv", 7, line), 0L));
        EventTimeAssigner json = new EventTimeAssigner(false);
        String record = "{\"event_time\":\"2026-03-02T00:00:05.340Z\"}";
        assertEquals(T, json.extractTimestamp(io.fraudpipeline.origin.Origin.kafka("t", 0, 9L, record), 0L));
    }

    @Test
    void readsTheSecondCsvColumn() {
        EventTimeAssigner csv = new EventTimeAssigner(true);
        assertEquals(T, csv.extractTimestamp("tx_1,2026-03-02T00:00:05.340Z,trade,w_1", 0L));
    }

    @Test
    void unreadableTimeFallsBackToThePreviousTimeOrNoneNeverTheSourceTimestampNeverThrows() {
        EventTimeAssigner json = new EventTimeAssigner(false);
        // nothing read yet: no timestamp (a Kafka append time would move the watermark to now)
        assertEquals(Long.MIN_VALUE, json.extractTimestamp("not json \uFFFD", 42L));
        assertEquals(Long.MIN_VALUE, new EventTimeAssigner(true).extractTimestamp("tx_id,event_time,tx_type", 42L));
        json.extractTimestamp("{\"event_time\":\"2026-03-02T00:00:05.340Z\"}", 0L);
        for (String bad : new String[] {"", "{\"event_time\":\"yesterday\"}", "{\"event_time\":", "{\"event_time\":\"2026",
                "{\"event_time\":null}", "{\"event_time\":\"99999999999999999999999\"}"}) {
            assertEquals(T, json.extractTimestamp(bad, 7L), bad);
        }
        EventTimeAssigner fresh = new EventTimeAssigner(true);
        assertEquals(Long.MIN_VALUE, fresh.extractTimestamp("no,commas-here-is-time", Long.MIN_VALUE));
    }
}
