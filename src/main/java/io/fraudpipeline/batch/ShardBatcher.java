package io.fraudpipeline.batch;

import org.apache.flink.api.common.operators.ProcessingTimeService.ProcessingTimeCallback;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.types.Row;

import java.util.ArrayList;
import java.util.List;

/**
 * Groups keyed records into micro-batches per shard, so the Python operator downstream
 * crosses the JVM/Python boundary once per batch instead of once per record.
 *
 * <p>Input: {@code Row(key STRING, raw STRING, mirrored BOOLEAN)}. Output:
 * {@code Row(shard INT, Row(shard INT, keys STRING[], raws STRING[], mirrored STRING, sync BOOLEAN))}, where
 * {@code shard = floorMod(key.hashCode(), shards)} ({@link String#hashCode} is fixed by the
 * Java language spec, so a shard never moves between runs) and {@code mirrored} holds one
 * '0'/'1' character per record. Records keep their arrival order within a shard.
 *
 * <p>A shard's batch is emitted when it holds {@code maxBatch} records, when the oldest
 * buffered record has waited {@code maxDelayMs} (processing time), before every checkpoint
 * barrier ({@link #prepareSnapshotPreBarrier}) and at the end of bounded input. Flushing at
 * the barrier means no record is ever buffered across a checkpoint, so the operator needs
 * no state of its own and exactly-once holds unchanged. Buffered records are also emitted
 * before a watermark is forwarded, so no record falls behind a watermark that passed it
 * (event-time operators downstream, such as the SQL rules, would drop it as late).
 *
 * <p>Before every barrier each shard also gets a batch with {@code sync = true} (empty when
 * the shard had nothing buffered): the downstream Python function keeps changed wallet
 * states in memory and writes them to Flink state when a sync batch arrives, that is once
 * per wallet per checkpoint instead of once per record. This relies on aligned
 * checkpoints (the sync batch is processed before the barrier is); the job refuses
 * unaligned ones.
 */
public class ShardBatcher extends AbstractStreamOperator<Row>
        implements OneInputStreamOperator<Row, Row>, BoundedOneInput, ProcessingTimeCallback {

    private static final long serialVersionUID = 1L;

    private final int shards;
    private final int maxBatch;
    private final long maxDelayMs;

    private transient List<String>[] keys;
    private transient List<String>[] raws;
    private transient StringBuilder[] mirrored;
    private transient int buffered;
    private transient boolean timerPending;

    public ShardBatcher(int shards, int maxBatch, long maxDelayMs) {
        if (shards < 1 || maxBatch < 1 || maxDelayMs < 1) {
            throw new IllegalArgumentException("shards, maxBatch and maxDelayMs must be >= 1");
        }
        this.shards = shards;
        this.maxBatch = maxBatch;
        this.maxDelayMs = maxDelayMs;
    }

    /** The shard of a key: the same function the Python side uses for its checks. */
    public static int shardOf(String key, int shards) {
        return Math.floorMod(key.hashCode(), shards);
    }

    @Override
    @SuppressWarnings("unchecked")
    public void open() throws Exception {
        super.open();
        keys = new List[shards];
        raws = new List[shards];
        mirrored = new StringBuilder[shards];
        for (int i = 0; i < shards; i++) {
            keys[i] = new ArrayList<>();
            raws[i] = new ArrayList<>();
            mirrored[i] = new StringBuilder();
        }
    }

    @Override
    public void processElement(StreamRecord<Row> element) throws Exception {
        Row row = element.getValue();
        String key = (String) row.getField(0);
        int shard = shardOf(key, shards);
        keys[shard].add(key);
        raws[shard].add((String) row.getField(1));
        mirrored[shard].append(Boolean.TRUE.equals(row.getField(2)) ? '1' : '0');
        buffered++;
        if (keys[shard].size() >= maxBatch) {
            emit(shard, false);
        }
        if (buffered > 0 && !timerPending) {
            timerPending = true;
            long now = getProcessingTimeService().getCurrentProcessingTime();
            getProcessingTimeService().registerTimer(now + maxDelayMs, this);
        }
    }

    @Override
    public void onProcessingTime(long time) throws Exception {
        timerPending = false;
        emitBuffered();
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        emitBuffered();
        super.processWatermark(mark);
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        syncAll();
    }

    @Override
    public void endInput() throws Exception {
        syncAll();
    }

    /** Every shard's buffered records, as ordinary (non-sync) batches. */
    private void emitBuffered() {
        if (buffered == 0) {
            return;
        }
        for (int shard = 0; shard < shards; shard++) {
            if (!keys[shard].isEmpty()) {
                emit(shard, false);
            }
        }
    }

    /** Every shard's buffered records, and a sync for every shard, buffered or not. */
    private void syncAll() {
        for (int shard = 0; shard < shards; shard++) {
            emit(shard, true);
        }
    }

    private void emit(int shard, boolean sync) {
        List<String> k = keys[shard];
        List<String> r = raws[shard];
        Row batch = Row.of(
                shard,
                k.toArray(new String[0]),
                r.toArray(new String[0]),
                mirrored[shard].toString(),
                sync);
        buffered -= k.size();
        k.clear();
        r.clear();
        mirrored[shard].setLength(0);
        output.collect(new StreamRecord<>(Row.of(shard, batch)));
    }
}
