package io.fraudpipeline.kinesis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.BiConsumer;
import org.apache.flink.api.connector.source.ReaderInfo;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.metrics.groups.SplitEnumeratorMetricGroup;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.kinesis.model.SequenceNumberRange;
import software.amazon.awssdk.services.kinesis.model.Shard;

class KinesisShardEnumeratorTest {

    /** Records assignments; one registered reader. */
    static final class Context implements SplitEnumeratorContext<KinesisShardSplit> {
        final List<KinesisShardSplit> assigned = new ArrayList<>();
        final List<Integer> noMoreSplits = new ArrayList<>();

        @Override public SplitEnumeratorMetricGroup metricGroup() { return null; }
        @Override public void sendEventToSourceReader(int subtaskId, org.apache.flink.api.connector.source.SourceEvent event) {}
        @Override public int currentParallelism() { return 1; }
        @Override public Map<Integer, ReaderInfo> registeredReaders() {
            Map<Integer, ReaderInfo> readers = new HashMap<>();
            readers.put(0, new ReaderInfo(0, "localhost"));
            return readers;
        }
        @Override public void assignSplits(SplitsAssignment<KinesisShardSplit> assignment) {
            assignment.assignment().values().forEach(assigned::addAll);
        }
        @Override public void signalNoMoreSplits(int subtask) { noMoreSplits.add(subtask); }
        @Override public <T> void callAsync(Callable<T> callable, BiConsumer<T, Throwable> handler) {}
        @Override public <T> void callAsync(Callable<T> c, BiConsumer<T, Throwable> h, long d, long p) {}
        @Override public void runInCoordinatorThread(Runnable runnable) { runnable.run(); }
    }

    private static Shard shard(String id, String parent, boolean closed) {
        return Shard.builder()
                .shardId(id)
                .parentShardId(parent)
                .sequenceNumberRange(SequenceNumberRange.builder()
                        .startingSequenceNumber("1").endingSequenceNumber(closed ? "9" : null).build())
                .build();
    }

    private static KinesisSourceConfig config(String start, boolean bounded) {
        return KinesisStreamsSource.builder().stream("s").startPosition(start).bounded(bounded)
                .build().config();
    }

    @Test
    void aChildShardWaitsUntilItsParentIsReadToTheEnd() {
        Context ctx = new Context();
        KinesisShardEnumerator enumerator = new KinesisShardEnumerator(ctx, config("trim_horizon", false), null);
        enumerator.onShardsListed(List.of(shard("p", null, true), shard("c", "p", false)), null);
        assertEquals(List.of("p"), ctx.assigned.stream().map(KinesisShardSplit::splitId).toList());

        enumerator.handleSourceEvent(0, new ShardsFinishedEvent(List.of("p")));
        assertEquals(List.of("p", "c"), ctx.assigned.stream().map(KinesisShardSplit::splitId).toList());
        assertEquals(StartPosition.TRIM_HORIZON, ctx.assigned.get(1).start);
    }

    @Test
    void shardsFoundLaterStartAtTrimHorizonAndKnownShardsAreNotAssignedTwice() {
        Context ctx = new Context();
        KinesisShardEnumerator enumerator = new KinesisShardEnumerator(ctx, config("latest", false), null);
        enumerator.onShardsListed(List.of(shard("a", null, false)), null);
        enumerator.onShardsListed(List.of(shard("a", null, true), shard("b", "a", false)), null);
        enumerator.handleSourceEvent(0, new ShardsFinishedEvent(List.of("a")));
        assertEquals(2, ctx.assigned.size());
        assertEquals(StartPosition.LATEST, ctx.assigned.get(0).start);
        assertEquals(StartPosition.TRIM_HORIZON, ctx.assigned.get(1).start);
    }

    @Test
    void boundedSignalsNoMoreSplitsOnceEverythingIsAssigned() {
        Context ctx = new Context();
        KinesisShardEnumerator enumerator = new KinesisShardEnumerator(ctx, config("trim_horizon", true), null);
        enumerator.onShardsListed(List.of(shard("p", null, true), shard("c", "p", false)), null);
        assertTrue(ctx.noMoreSplits.isEmpty(), "the child is still waiting");
        enumerator.handleSourceEvent(0, new ShardsFinishedEvent(List.of("p")));
        assertEquals(List.of(0), ctx.noMoreSplits);
        assertTrue(ctx.assigned.get(1).stopAtArrivalMs < KinesisShardSplit.UNBOUNDED);
    }
}
