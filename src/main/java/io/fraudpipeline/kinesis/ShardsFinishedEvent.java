package io.fraudpipeline.kinesis;

import java.util.List;
import org.apache.flink.api.connector.source.SourceEvent;

/** Reader to enumerator: these shards were read to their end (closed, or bounded stop). */
final class ShardsFinishedEvent implements SourceEvent {
    private static final long serialVersionUID = 1L;
    final List<String> shardIds;

    ShardsFinishedEvent(List<String> shardIds) {
        this.shardIds = List.copyOf(shardIds);
    }
}
