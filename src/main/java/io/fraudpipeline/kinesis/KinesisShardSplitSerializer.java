package io.fraudpipeline.kinesis;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.core.memory.DataOutputView;

/** Splits in checkpoints: version 1. */
public final class KinesisShardSplitSerializer implements SimpleVersionedSerializer<KinesisShardSplit> {
    static final KinesisShardSplitSerializer INSTANCE = new KinesisShardSplitSerializer();
    private static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(KinesisShardSplit split) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(128);
        write(split, out);
        return out.getCopyOfBuffer();
    }

    @Override
    public KinesisShardSplit deserialize(int version, byte[] bytes) throws IOException {
        if (version != VERSION) {
            throw new IOException("unknown Kinesis split serializer version " + version);
        }
        return read(new DataInputDeserializer(bytes));
    }

    static void write(KinesisShardSplit split, DataOutputView out) throws IOException {
        out.writeUTF(split.shardId);
        out.writeInt(split.parentShardIds.size());
        for (String parent : split.parentShardIds) {
            out.writeUTF(parent);
        }
        out.writeUTF(split.start.name());
        out.writeBoolean(split.startSequenceNumber != null);
        if (split.startSequenceNumber != null) {
            out.writeUTF(split.startSequenceNumber);
        }
        out.writeLong(split.startTimestampMs);
        out.writeLong(split.stopAtArrivalMs);
    }

    static KinesisShardSplit read(DataInputView in) throws IOException {
        String shardId = in.readUTF();
        int parents = in.readInt();
        List<String> parentIds = new ArrayList<>(parents);
        for (int i = 0; i < parents; i++) {
            parentIds.add(in.readUTF());
        }
        StartPosition start = StartPosition.valueOf(in.readUTF());
        String sequence = in.readBoolean() ? in.readUTF() : null;
        long startTimestamp = in.readLong();
        long stopAt = in.readLong();
        return new KinesisShardSplit(shardId, parentIds, start, sequence, startTimestamp, stopAt);
    }
}
