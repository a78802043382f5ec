package io.fraudpipeline.origin;

/**
 * Where a source record came from, carried in front of its text until the record is either
 * accepted or sent to the DLQ: {@code \u0001<kind>|<fields…>\u0001<record>}.
 *
 * <ul>
 *   <li>Kafka: {@code k|<topic>|<partition>|<offset>}
 *   <li>Kinesis: {@code s|<stream>|<shard id>|<sequence number>}
 *   <li>file: {@code f|<line>|<path>} (the path last: it is the one field that may hold '|')
 * </ul>
 *
 * <p>The job strips the envelope before anything reads the record (the key extraction's SQL,
 * the raw zone through {@link StripOrigin}, the keyed Python function), and the DLQ record
 * carries the parsed origin. None of the fields can hold the separator U+0001 (topic, stream
 * and shard names cannot; a path that did is cut at it), so the envelope ends at the second
 * U+0001 whatever the record holds. A record without an envelope (starting with anything
 * else) is its own payload.
 */
public final class Origin {
    /** Opens and closes the envelope. */
    public static final char SEP = '\u0001';

    private Origin() {}

    public static String kafka(String topic, int partition, long offset, String record) {
        return SEP + "k|" + topic + '|' + partition + '|' + offset + SEP + record;
    }

    public static String kinesis(String stream, String shardId, String sequenceNumber, String record) {
        return SEP + "s|" + stream + '|' + shardId + '|' + sequenceNumber + SEP + record;
    }

    public static String file(String path, long line, String record) {
        int cut = path.indexOf(SEP);
        return SEP + "f|" + line + '|' + (cut < 0 ? path : path.substring(0, cut)) + SEP + record;
    }

    /** The record without its envelope (a record without one is returned as it is). */
    public static String payload(String value) {
        if (value.isEmpty() || value.charAt(0) != SEP) {
            return value;
        }
        int end = value.indexOf(SEP, 1);
        return end < 0 ? value : value.substring(end + 1);
    }
}
