package io.fraudpipeline.time;

import io.fraudpipeline.origin.Origin;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import org.apache.flink.api.common.eventtime.TimestampAssigner;
import org.apache.flink.api.common.eventtime.TimestampAssignerSupplier;

/**
 * Reads a raw record's {@code event_time} without parsing the whole record: the value of
 * the {@code "event_time"} key of a JSON object, or the second column of a CSV row (the
 * contract's column order). ISO-8601 instants and epoch milliseconds are accepted.
 *
 * <p>A record whose time cannot be read (malformed, missing, a header line) never fails
 * the job: it gets the last time read on this subtask, or else no timestamp
 * ({@code Long.MIN_VALUE}), so it never advances the watermark. Such records are rejected
 * later, with a reason, by the job's validation.
 */
public final class EventTimeAssigner implements TimestampAssigner<String> {
    private static final String JSON_KEY = "\"event_time\"";

    private final boolean csv;
    private long lastTimestampMs = Long.MIN_VALUE;

    public EventTimeAssigner(boolean csv) {
        this.csv = csv;
    }

    /** For WatermarkStrategy.withTimestampAssigner: format is "csv" or "jsonl". */
    public static TimestampAssignerSupplier<String> supplier(String format) {
        boolean csv = "csv".equals(format);
        return context -> new EventTimeAssigner(csv);
    }

    @Override
    public long extractTimestamp(String record, long recordTimestamp) {
        // Source records arrive in an origin envelope (a file path may hold a comma).
        String payload = record == null ? null : Origin.payload(record);
        long ts = payload == null ? Long.MIN_VALUE : (csv ? fromCsv(payload) : fromJson(payload));
        if (ts != Long.MIN_VALUE) {
            lastTimestampMs = ts;
            return ts;
        }
        // Never the source's timestamp or the clock: a CSV header or a malformed record
        // stamped "now" would move the watermark past every replayed event (all late).
        // Long.MIN_VALUE (NO_TIMESTAMP) never advances the watermark.
        return lastTimestampMs;
    }

    static long fromJson(String record) {
        int key = record.indexOf(JSON_KEY);
        if (key < 0) {
            return Long.MIN_VALUE;
        }
        int i = record.indexOf(':', key + JSON_KEY.length());
        if (i < 0) {
            return Long.MIN_VALUE;
        }
        i++;
        while (i < record.length() && Character.isWhitespace(record.charAt(i))) {
            i++;
        }
        if (i >= record.length()) {
            return Long.MIN_VALUE;
        }
        if (record.charAt(i) == '"') {
            int end = record.indexOf('"', i + 1);
            return end < 0 ? Long.MIN_VALUE : parse(record.substring(i + 1, end));
        }
        int end = i;
        while (end < record.length() && Character.isDigit(record.charAt(end))) {
            end++;
        }
        return parse(record.substring(i, end));
    }

    static long fromCsv(String record) {
        int first = record.indexOf(',');
        if (first < 0) {
            return Long.MIN_VALUE;
        }
        int second = record.indexOf(',', first + 1);
        return parse(record.substring(first + 1, second < 0 ? record.length() : second));
    }

    static long parse(String text) {
        String t = text.trim();
        if (t.isEmpty() || t.length() > 40) {
            return Long.MIN_VALUE;
        }
        boolean digits = true;
        for (int k = 0; k < t.length(); k++) {
            if (!Character.isDigit(t.charAt(k))) {
                digits = false;
                break;
            }
        }
        try {
            return digits ? Long.parseLong(t) : Instant.parse(t).toEpochMilli();
        } catch (NumberFormatException | DateTimeParseException | ArithmeticException e) {
            return Long.MIN_VALUE;
        }
    }
}
