package io.fraudpipeline.kinesis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class KinesisShardSplitSerializerTest {
    @Test
    void aResumedSplitRoundTripsWithItsSequenceNumber() throws Exception {
        KinesisShardSplit split =
                new KinesisShardSplit("shardId-000000000002", List.of("shardId-000000000000"),
                        StartPosition.TRIM_HORIZON, null, 0L, 1_700_000_000_000L);
        KinesisShardSplitState state = new KinesisShardSplitState(split);
        state.lastEmittedSequenceNumber = "49590338271490256608559692538361571095921575989136588898";
        KinesisShardSplit checkpointed = state.toSplit();

        KinesisShardSplitSerializer serializer = KinesisShardSplitSerializer.INSTANCE;
        KinesisShardSplit restored =
                serializer.deserialize(serializer.getVersion(), serializer.serialize(checkpointed));

        assertEquals(checkpointed, restored);
        assertEquals(StartPosition.AFTER_SEQUENCE_NUMBER, restored.start);
        assertEquals(state.lastEmittedSequenceNumber, new KinesisShardSplitState(restored).lastEmittedSequenceNumber);
        assertEquals(1_700_000_000_000L, restored.stopAtArrivalMs);
    }

    @Test
    void enumeratorStateRoundTrips() throws Exception {
        KinesisEnumeratorState state = new KinesisEnumeratorState(
                Set.of("a", "b"), Set.of("a"),
                List.of(new KinesisShardSplit("b", List.of("a"), StartPosition.AT_TIMESTAMP, null, 5L,
                        KinesisShardSplit.UNBOUNDED)),
                123L);
        KinesisEnumeratorState.Serializer serializer = KinesisEnumeratorState.Serializer.INSTANCE;
        KinesisEnumeratorState restored = serializer.deserialize(1, serializer.serialize(state));
        assertEquals(state.discoveredShardIds, restored.discoveredShardIds);
        assertEquals(state.finishedShardIds, restored.finishedShardIds);
        assertEquals(state.unassigned, restored.unassigned);
        assertEquals(123L, restored.firstStartMs);
    }
}
