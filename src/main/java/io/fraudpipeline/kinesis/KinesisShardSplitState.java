package io.fraudpipeline.kinesis;

/** A split being read: the split plus the sequence number of the last record emitted. */
final class KinesisShardSplitState {
    final KinesisShardSplit split;
    String lastEmittedSequenceNumber;

    KinesisShardSplitState(KinesisShardSplit split) {
        this.split = split;
        this.lastEmittedSequenceNumber =
                split.start == StartPosition.AFTER_SEQUENCE_NUMBER ? split.startSequenceNumber : null;
    }

    KinesisShardSplit toSplit() {
        return split.resumeAfter(lastEmittedSequenceNumber);
    }
}
