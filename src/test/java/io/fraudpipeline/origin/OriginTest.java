package io.fraudpipeline.origin;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.file.src.FileSourceSplit;
import org.apache.flink.connector.file.src.reader.BulkFormat;
import org.apache.flink.connector.file.src.util.CheckpointedPosition;
import org.apache.flink.connector.file.src.util.RecordAndPosition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OriginTest {

    @Test
    void theEnvelopeEndsAtTheSecondSeparatorWhateverTheRecordHolds() {
        String hostile = "\u0001k|x|1|2\u0001{\"a\":1}";
        assertEquals(hostile, Origin.payload(Origin.kafka("t", 3, 41L, hostile)));
        assertEquals("\u0001k|t|3|41\u0001", Origin.kafka("t", 3, 41L, ""));
        assertEquals("", Origin.payload(Origin.kafka("t", 3, 41L, "")));
        assertEquals("plain,csv", Origin.payload("plain,csv"));
        assertEquals(
                "\u0001s|stream|shardId-000000000001|4960\u0001x",
                Origin.kinesis("stream", "shardId-000000000001", "4960", "x"));
        assertEquals("\u0001f|7|/tmp/a|b.csv\u0001r", Origin.file("/tmp/a|b.csv", 7, "r"));
        assertEquals("r", Origin.payload(Origin.file("/tmp/odd\u0001name", 1, "r")));
    }

    @Test
    void fileLinesCarryTheirPathAndLineNumberAlsoAfterARestore(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("tx.csv");
        Files.write(file, "header\r\nline2\n\nline4\rline5\n".getBytes(StandardCharsets.UTF_8));
        org.apache.flink.core.fs.Path path = new org.apache.flink.core.fs.Path(file.toUri());
        FileSourceSplit split = new FileSourceSplit("0", path, 0, Files.size(file), 0, Files.size(file));
        OriginTextLineFormat format = new OriginTextLineFormat();

        List<String> all = read(format.createReader(new Configuration(), split));
        assertEquals(5, all.size());
        String prefix = "\u0001f|";
        assertEquals(prefix + "1|" + path + "\u0001header", all.get(0));
        assertEquals(prefix + "2|" + path + "\u0001line2", all.get(1));
        assertEquals(prefix + "3|" + path + "\u0001", all.get(2));
        assertEquals(prefix + "5|" + path + "\u0001line5", all.get(4));

        // A checkpoint taken after three records: the restored reader goes on at line 4.
        FileSourceSplit restored =
                split.updateWithCheckpointedPosition(new CheckpointedPosition(CheckpointedPosition.NO_OFFSET, 3));
        List<String> rest = read(format.restoreReader(new Configuration(), restored));
        assertEquals(List.of(prefix + "4|" + path + "\u0001line4", prefix + "5|" + path + "\u0001line5"), rest);
    }

    private static List<String> read(BulkFormat.Reader<String> reader) throws IOException {
        List<String> out = new ArrayList<>();
        try (reader) {
            BulkFormat.RecordIterator<String> batch;
            while ((batch = reader.readBatch()) != null) {
                RecordAndPosition<String> r;
                while ((r = batch.next()) != null) {
                    out.add(r.getRecord());
                }
                batch.releaseBatch();
            }
        }
        return out;
    }
}
