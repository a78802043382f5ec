package io.fraudpipeline.kinesis;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * The enumerator's checkpoint: shards already handed out (so a restart does not read them
 * twice), shards read to their end (so their children may start), splits not yet assigned,
 * and the time the job first started (the stop time of bounded reads).
 */
public final class KinesisEnumeratorState {
    final Set<String> discoveredShardIds;
    final Set<String> finishedShardIds;
    final List<KinesisShardSplit> unassigned;
    final long firstStartMs;

    KinesisEnumeratorState(
            Set<String> discoveredShardIds,
            Set<String> finishedShardIds,
            List<KinesisShardSplit> unassigned,
            long firstStartMs) {
        this.discoveredShardIds = new LinkedHashSet<>(discoveredShardIds);
        this.finishedShardIds = new LinkedHashSet<>(finishedShardIds);
        this.unassigned = new ArrayList<>(unassigned);
        this.firstStartMs = firstStartMs;
    }

    /** Version 1. */
    public static final class Serializer implements SimpleVersionedSerializer<KinesisEnumeratorState> {
        static final Serializer INSTANCE = new Serializer();
        private static final int VERSION = 1;

        @Override
        public int getVersion() {
            return VERSION;
        }

        @Override
        public byte[] serialize(KinesisEnumeratorState state) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(256);
            writeStrings(out, state.discoveredShardIds);
            writeStrings(out, state.finishedShardIds);
            out.writeInt(state.unassigned.size());
            for (KinesisShardSplit split : state.unassigned) {
                KinesisShardSplitSerializer.write(split, out);
            }
            out.writeLong(state.firstStartMs);
            return out.getCopyOfBuffer();
        }

        @Override
        public KinesisEnumeratorState deserialize(int version, byte[] bytes) throws IOException {
            if (version != VERSION) {
                throw new IOException("unknown Kinesis enumerator state version " + version);
            }
            DataInputDeserializer in = new DataInputDeserializer(bytes);
            Set<String> discovered = readStrings(in);
            Set<String> finished = readStrings(in);
            int n = in.readInt();
            List<KinesisShardSplit> unassigned = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                unassigned.add(KinesisShardSplitSerializer.read(in));
            }
            return new KinesisEnumeratorState(discovered, finished, unassigned, in.readLong());
        }

        private static void writeStrings(DataOutputSerializer out, Set<String> values)
                throws IOException {
            out.writeInt(values.size());
            for (String v : values) {
                out.writeUTF(v);
            }
        }

        private static Set<String> readStrings(DataInputDeserializer in) throws IOException {
            int n = in.readInt();
            Set<String> values = new LinkedHashSet<>();
            for (int i = 0; i < n; i++) {
                values.add(in.readUTF());
            }
            return values;
        }
    }
}
