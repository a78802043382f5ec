package io.fraudpipeline.time;

import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * Forwards every record unchanged and every watermark {@code delayMs} earlier, so operators
 * downstream accept events up to {@code delayMs} (event time) behind the upstream watermark.
 * The end-of-input watermark ({@link Long#MAX_VALUE}) passes unchanged.
 *
 * <p>The job's SQL rules read the source watermark through this operator: their view cannot
 * derive a watermark from the records it sees, because the keyed Python operator emits them
 * grouped by state shard (hours of event time apart in a fast replay), not in source order.
 */
public class WatermarkDelay<T> extends AbstractStreamOperator<T> implements OneInputStreamOperator<T, T> {

    private static final long serialVersionUID = 1L;

    private final long delayMs;

    public WatermarkDelay(long delayMs) {
        if (delayMs < 0) {
            throw new IllegalArgumentException("delayMs must be >= 0");
        }
        this.delayMs = delayMs;
    }

    /** The watermark forwarded for an upstream watermark at {@code timestamp}. */
    public static long delayed(long timestamp, long delayMs) {
        if (timestamp == Long.MAX_VALUE) {
            return timestamp;
        }
        return timestamp < Long.MIN_VALUE + delayMs ? Long.MIN_VALUE : timestamp - delayMs;
    }

    @Override
    public void processElement(StreamRecord<T> element) {
        output.collect(element);
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        super.processWatermark(new Watermark(delayed(mark.getTimestamp(), delayMs)));
    }
}
