package io.fraudpipeline.time;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

class WatermarkDelayTest {

    @Test
    void recordsPassUnchangedAndWatermarksArriveDelayed() throws Exception {
        OneInputStreamOperatorTestHarness<String, String> h =
                new OneInputStreamOperatorTestHarness<>(new WatermarkDelay<>(60_000L));
        h.open();
        h.processElement(new StreamRecord<>("a", 5L));
        h.processWatermark(new Watermark(100_000L));
        h.processElement(new StreamRecord<>("late-but-within-delay", 50_000L));
        h.processWatermark(new Watermark(Long.MAX_VALUE));
        List<String> out = new ArrayList<>();
        for (Object o : h.getOutput()) {
            out.add(o instanceof Watermark ? "wm:" + ((Watermark) o).getTimestamp()
                    : ((StreamRecord<?>) o).getValue() + "@" + ((StreamRecord<?>) o).getTimestamp());
        }
        assertEquals(List.of("a@5", "wm:40000", "late-but-within-delay@50000", "wm:" + Long.MAX_VALUE), out);
    }

    @Test
    void theDelayNeverUnderflows() {
        assertEquals(Long.MIN_VALUE, WatermarkDelay.delayed(Long.MIN_VALUE + 5, 10));
        assertEquals(Long.MAX_VALUE, WatermarkDelay.delayed(Long.MAX_VALUE, 10));
        assertThrows(IllegalArgumentException.class, () -> new WatermarkDelay<String>(-1));
    }
}
