package io.fraudpipeline.kinesis;

import java.util.ArrayList;
import java.util.Map;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.source.reader.SingleThreadMultiplexSourceReaderBase;
import software.amazon.awssdk.services.kinesis.model.Record;

/**
 * One reader subtask: a single fetcher thread polls all its shards and reports each shard's
 * MillisBehindLatest as a gauge ({@link ShardLagGauges}) in the reader's metric group.
 */
final class KinesisSourceReader
        extends SingleThreadMultiplexSourceReaderBase<Record, String, KinesisShardSplit, KinesisShardSplitState> {

    KinesisSourceReader(KinesisSourceConfig config, SourceReaderContext context) {
        super(
                () ->
                        new KinesisShardSplitReader(
                                config, new ShardLagGauges(context.metricGroup().addGroup(config.metricGroup))),
                new KinesisRecordEmitter(config.stream, config.originEnvelope),
                new Configuration(),
                context);
    }

    @Override
    protected void onSplitFinished(Map<String, KinesisShardSplitState> finished) {
        // Children of a resharded shard wait for this before they are assigned.
        context.sendSourceEventToCoordinator(new ShardsFinishedEvent(new ArrayList<>(finished.keySet())));
    }

    @Override
    protected KinesisShardSplitState initializedState(KinesisShardSplit split) {
        return new KinesisShardSplitState(split);
    }

    @Override
    protected KinesisShardSplit toSplitType(String splitId, KinesisShardSplitState state) {
        return state.toSplit();
    }
}
