package io.fraudpipeline.origin;

import java.io.IOException;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.file.src.FileSourceSplit;
import org.apache.flink.connector.file.src.impl.StreamFormatAdapter;
import org.apache.flink.connector.file.src.reader.BulkFormat;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.connector.file.src.util.RecordAndPosition;

/**
 * Text lines of a file (Flink's {@link TextLineInputFormat}, UTF-8), each in an {@link Origin}
 * envelope naming the file and the line's 1-based number.
 *
 * <p>The line number is the record's position as the file source itself tracks it: a text
 * line reader keeps no byte offsets, so every position is "records since the start of the
 * file" ({@link RecordAndPosition#getRecordSkipCount()} with {@code NO_OFFSET}), also after a
 * restore from a checkpoint, where the source skips that many records. A line is what
 * {@link java.io.BufferedReader#readLine()} calls one (terminated by LF, CR or CR LF).
 */
public final class OriginTextLineFormat implements BulkFormat<String, FileSourceSplit> {
    private static final long serialVersionUID = 1L;

    private final StreamFormatAdapter<String> lines = new StreamFormatAdapter<>(new TextLineInputFormat());

    @Override
    public Reader<String> createReader(Configuration config, FileSourceSplit split) throws IOException {
        return new Enveloping(lines.createReader(config, split), split.path().toString());
    }

    @Override
    public Reader<String> restoreReader(Configuration config, FileSourceSplit split) throws IOException {
        return new Enveloping(lines.restoreReader(config, split), split.path().toString());
    }

    @Override
    public boolean isSplittable() {
        return false;
    }

    @Override
    public TypeInformation<String> getProducedType() {
        return Types.STRING;
    }

    private static final class Enveloping implements Reader<String> {
        private final Reader<String> lines;
        private final String path;

        Enveloping(Reader<String> lines, String path) {
            this.lines = lines;
            this.path = path;
        }

        @Override
        public RecordIterator<String> readBatch() throws IOException {
            RecordIterator<String> batch = lines.readBatch();
            if (batch == null) {
                return null;
            }
            return new RecordIterator<String>() {
                @Override
                public RecordAndPosition<String> next() {
                    RecordAndPosition<String> line = batch.next();
                    if (line == null) {
                        return null;
                    }
                    if (line.getOffset() != RecordAndPosition.NO_OFFSET) {
                        // Text lines have no offsets; a reader that had them would need the
                        // lines before the offset counted, which this class does not do.
                        throw new IllegalStateException("unexpected byte offset in " + path + ": " + line);
                    }
                    long number = line.getRecordSkipCount(); // records up to and including this one
                    return new RecordAndPosition<>(
                            Origin.file(path, number, line.getRecord()), line.getOffset(), number);
                }

                @Override
                public void releaseBatch() {
                    batch.releaseBatch();
                }
            };
        }

        @Override
        public void close() throws IOException {
            lines.close();
        }
    }
}
