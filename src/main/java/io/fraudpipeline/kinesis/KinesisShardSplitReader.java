package io.fraudpipeline.kinesis;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.ExpiredIteratorException;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.KinesisException;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;

/**
 * Polls GetRecords on the shards assigned to one reader, one shard per fetch in turn, at
 * most once per poll interval per shard. Throttling and transient network errors back off
 * exponentially per shard; an expired iterator is re-created from the last sequence
 * number read. Runs in the reader's single fetcher thread.
 */
final class KinesisShardSplitReader implements SplitReader<Record, KinesisShardSplit> {
    private static final Logger LOG = LoggerFactory.getLogger(KinesisShardSplitReader.class);
    private static final long MAX_BACKOFF_MS = 10_000L;
    /** Consecutive failures of one shard after which the job fails (and restarts from a checkpoint). */
    private static final int MAX_CONSECUTIVE_FAILURES = 30;

    private final KinesisSourceConfig config;
    private final KinesisClient client;
    private final ShardLagGauges lag;
    private final Map<String, ShardCursor> cursors = new HashMap<>();
    private final Deque<String> turn = new ArrayDeque<>();
    private final Object wakeUpLock = new Object();
    private boolean wokenUp;

    /** Where the fetcher is in one shard. */
    private static final class ShardCursor {
        final KinesisShardSplit split;
        String iterator;
        String lastSequenceNumber;
        long notBeforeMs;
        int failures;

        ShardCursor(KinesisShardSplit split) {
            this.split = split;
            this.lastSequenceNumber =
                    split.start == StartPosition.AFTER_SEQUENCE_NUMBER ? split.startSequenceNumber : null;
        }
    }

    KinesisShardSplitReader(KinesisSourceConfig config, ShardLagGauges lag) {
        this.config = config;
        this.client = config.createClient();
        this.lag = lag;
    }

    @Override
    public RecordsWithSplitIds<Record> fetch() throws IOException {
        ShardCursor cursor = nextDueCursor();
        if (cursor == null) {
            return new RecordsBySplits.Builder<Record>().build();
        }
        String splitId = cursor.split.shardId;
        RecordsBySplits.Builder<Record> out = new RecordsBySplits.Builder<>();
        GetRecordsResponse response;
        try {
            if (cursor.iterator == null) {
                cursor.iterator = shardIterator(cursor);
            }
            response =
                    client.getRecords(
                            GetRecordsRequest.builder()
                                    .shardIterator(cursor.iterator)
                                    .limit(config.maxRecordsPerPoll)
                                    .build());
        } catch (ExpiredIteratorException e) {
            cursor.iterator = null; // re-created after the last sequence number read
            return out.build();
        } catch (KinesisException | SdkClientException e) {
            backOff(cursor, e);
            return out.build();
        }
        cursor.failures = 0;
        boolean stop = false;
        List<Record> records = response.records();
        for (Record record : records) {
            Instant arrival = record.approximateArrivalTimestamp();
            if (arrival != null && arrival.toEpochMilli() > cursor.split.stopAtArrivalMs) {
                stop = true; // bounded: arrived after the job first started
                break;
            }
            out.add(splitId, record);
            cursor.lastSequenceNumber = record.sequenceNumber();
        }
        cursor.iterator = response.nextShardIterator();
        Long behind = response.millisBehindLatest();
        lag.update(splitId, behind);
        boolean caughtUp = records.isEmpty() && behind != null && behind == 0L;
        if (cursor.iterator == null // closed shard read to its end
                || stop
                || (caughtUp && cursor.split.stopAtArrivalMs != KinesisShardSplit.UNBOUNDED)) {
            out.addFinishedSplit(splitId);
            lag.finished(splitId);
            cursors.remove(splitId);
            turn.remove(splitId);
        } else {
            cursor.notBeforeMs = System.currentTimeMillis() + config.pollIntervalMs;
        }
        return out.build();
    }

    private String shardIterator(ShardCursor cursor) {
        GetShardIteratorRequest.Builder request =
                GetShardIteratorRequest.builder().streamName(config.stream).shardId(cursor.split.shardId);
        if (cursor.lastSequenceNumber != null) {
            request.shardIteratorType(ShardIteratorType.AFTER_SEQUENCE_NUMBER)
                    .startingSequenceNumber(cursor.lastSequenceNumber);
        } else if (cursor.split.start == StartPosition.AT_TIMESTAMP) {
            request.shardIteratorType(ShardIteratorType.AT_TIMESTAMP)
                    .timestamp(Instant.ofEpochMilli(cursor.split.startTimestampMs));
        } else if (cursor.split.start == StartPosition.LATEST) {
            request.shardIteratorType(ShardIteratorType.LATEST);
        } else {
            request.shardIteratorType(ShardIteratorType.TRIM_HORIZON);
        }
        return client.getShardIterator(request.build()).shardIterator();
    }

    private void backOff(ShardCursor cursor, RuntimeException error) throws IOException {
        cursor.failures++;
        if (cursor.failures >= MAX_CONSECUTIVE_FAILURES) {
            throw new IOException(
                    "reading shard " + cursor.split.shardId + " of " + config + " failed "
                            + cursor.failures + " times in a row: " + error.getMessage(),
                    error);
        }
        long delay = Math.min(MAX_BACKOFF_MS, config.pollIntervalMs * (1L << Math.min(cursor.failures, 10)));
        LOG.warn(
                "GetRecords on {} failed ({}); retrying in {} ms",
                cursor.split.shardId,
                error.getClass().getSimpleName(),
                delay);
        cursor.notBeforeMs = System.currentTimeMillis() + delay;
    }

    /** The next shard in turn whose poll interval has passed, or null after waiting a little. */
    private ShardCursor nextDueCursor() {
        long now = System.currentTimeMillis();
        long earliest = Long.MAX_VALUE;
        for (int i = 0; i < turn.size(); i++) {
            String id = turn.pollFirst();
            turn.addLast(id);
            ShardCursor cursor = cursors.get(id);
            if (cursor.notBeforeMs <= now) {
                return cursor;
            }
            earliest = Math.min(earliest, cursor.notBeforeMs);
        }
        long waitMs = earliest == Long.MAX_VALUE ? config.pollIntervalMs : earliest - now;
        synchronized (wakeUpLock) {
            if (!wokenUp && waitMs > 0) {
                try {
                    wakeUpLock.wait(waitMs);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            wokenUp = false;
        }
        return null;
    }

    @Override
    public void handleSplitsChanges(SplitsChange<KinesisShardSplit> changes) {
        if (!(changes instanceof SplitsAddition)) {
            throw new UnsupportedOperationException("unsupported split change " + changes);
        }
        for (KinesisShardSplit split : changes.splits()) {
            cursors.put(split.shardId, new ShardCursor(split));
            turn.addLast(split.shardId);
        }
    }

    @Override
    public void wakeUp() {
        synchronized (wakeUpLock) {
            wokenUp = true;
            wakeUpLock.notifyAll();
        }
    }

    @Override
    public void close() {
        client.close();
    }

    /** For tests: the shards this reader is polling. */
    Map<String, String> positions() {
        Map<String, String> p = new HashMap<>();
        cursors.forEach((id, c) -> p.put(id, c.lastSequenceNumber));
        return Collections.unmodifiableMap(p);
    }
}
