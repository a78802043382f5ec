package io.fraudpipeline.kinesis;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.util.FlinkRuntimeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.ListShardsRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.Shard;

/**
 * Lists the stream's shards at start (and, unbounded, every discovery interval) and hands
 * each shard to one reader as a split.
 *
 * <p>Resharding: a shard whose parent (or adjacent parent) is known and not yet read to
 * its end is held back until the reader of the parent reports it finished, so records of
 * one partition key stay in order across a split or merge. Shards found after the first
 * listing are read from TRIM_HORIZON whatever the configured start, so nothing written to
 * a new child shard is skipped. A parent that is no longer listed (past retention) does
 * not hold its children back.
 */
final class KinesisShardEnumerator implements SplitEnumerator<KinesisShardSplit, KinesisEnumeratorState> {
    private static final Logger LOG = LoggerFactory.getLogger(KinesisShardEnumerator.class);

    private final SplitEnumeratorContext<KinesisShardSplit> context;
    private final KinesisSourceConfig config;
    private final Set<String> discovered;
    private final Set<String> finished;
    private final List<KinesisShardSplit> unassigned;
    private final long firstStartMs;
    private final Set<Integer> signalledNoMoreSplits = new HashSet<>();
    private boolean listedOnce;
    private KinesisClient client;

    KinesisShardEnumerator(
            SplitEnumeratorContext<KinesisShardSplit> context,
            KinesisSourceConfig config,
            KinesisEnumeratorState restored) {
        this.context = context;
        this.config = config;
        if (restored == null) {
            this.discovered = new LinkedHashSet<>();
            this.finished = new LinkedHashSet<>();
            this.unassigned = new ArrayList<>();
            this.firstStartMs = System.currentTimeMillis();
        } else {
            this.discovered = new LinkedHashSet<>(restored.discoveredShardIds);
            this.finished = new LinkedHashSet<>(restored.finishedShardIds);
            this.unassigned = new ArrayList<>(restored.unassigned);
            this.firstStartMs = restored.firstStartMs;
            this.listedOnce = !restored.discoveredShardIds.isEmpty();
        }
    }

    @Override
    public void start() {
        client = config.createClient();
        if (config.bounded) {
            context.callAsync(this::listShards, this::onShardsListed);
        } else {
            context.callAsync(
                    this::listShards, this::onShardsListed, 0L, config.shardDiscoveryIntervalMs);
        }
    }

    private List<Shard> listShards() {
        List<Shard> shards = new ArrayList<>();
        String next = null;
        do {
            ListShardsRequest request =
                    next == null
                            ? ListShardsRequest.builder().streamName(config.stream).build()
                            : ListShardsRequest.builder().nextToken(next).build();
            ListShardsResponse response = client.listShards(request);
            shards.addAll(response.shards());
            next = response.nextToken();
        } while (next != null);
        return shards;
    }

    void onShardsListed(List<Shard> shards, Throwable error) {
        if (error != null) {
            if (!listedOnce) {
                // The first listing failing means a wrong stream, endpoint or credentials:
                // fail the job with the cause instead of idling forever.
                throw new FlinkRuntimeException(
                        "cannot list the shards of " + config + ": " + error.getMessage(), error);
            }
            LOG.warn("shard discovery on {} failed; retrying next interval", config, error);
            return;
        }
        boolean initial = !listedOnce;
        Set<String> listed = new HashSet<>();
        for (Shard shard : shards) {
            listed.add(shard.shardId());
            if (!discovered.add(shard.shardId())) {
                continue;
            }
            List<String> parents = new ArrayList<>(2);
            if (shard.parentShardId() != null) {
                parents.add(shard.parentShardId());
            }
            if (shard.adjacentParentShardId() != null) {
                parents.add(shard.adjacentParentShardId());
            }
            boolean closed = shard.sequenceNumberRange().endingSequenceNumber() != null;
            StartPosition start = initial ? config.startPosition : StartPosition.TRIM_HORIZON;
            if (initial && start == StartPosition.LATEST && closed) {
                finished.add(shard.shardId()); // nothing can arrive in a closed shard
                continue;
            }
            long stopAt = config.bounded ? firstStartMs : KinesisShardSplit.UNBOUNDED;
            unassigned.add(
                    new KinesisShardSplit(
                            shard.shardId(), parents, start, null, config.startTimestampMs, stopAt));
        }
        // Parents past retention are no longer listed; they cannot hold children back.
        for (String id : discovered) {
            if (!listed.contains(id)) {
                finished.add(id);
            }
        }
        listedOnce = true;
        assignPending();
    }

    private void assignPending() {
        if (!listedOnce) {
            return;
        }
        int parallelism = context.currentParallelism();
        Iterator<KinesisShardSplit> it = unassigned.iterator();
        while (it.hasNext()) {
            KinesisShardSplit split = it.next();
            if (waitsForParent(split)) {
                continue;
            }
            int owner = Math.floorMod(split.shardId.hashCode(), parallelism);
            if (!context.registeredReaders().containsKey(owner)) {
                continue;
            }
            context.assignSplit(split, owner);
            it.remove();
        }
        if (config.bounded && unassigned.isEmpty()) {
            for (int reader : context.registeredReaders().keySet()) {
                if (signalledNoMoreSplits.add(reader)) {
                    context.signalNoMoreSplits(reader);
                }
            }
        }
    }

    private boolean waitsForParent(KinesisShardSplit split) {
        for (String parent : split.parentShardIds) {
            if (discovered.contains(parent) && !finished.contains(parent)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void handleSourceEvent(int subtaskId, SourceEvent event) {
        if (event instanceof ShardsFinishedEvent) {
            finished.addAll(((ShardsFinishedEvent) event).shardIds);
            assignPending();
        }
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        // Splits are pushed when shards are found; readers never ask.
    }

    @Override
    public void addSplitsBack(List<KinesisShardSplit> splits, int subtaskId) {
        unassigned.addAll(splits);
        signalledNoMoreSplits.remove(subtaskId);
        assignPending();
    }

    @Override
    public void addReader(int subtaskId) {
        assignPending();
    }

    @Override
    public KinesisEnumeratorState snapshotState(long checkpointId) {
        return new KinesisEnumeratorState(discovered, finished, unassigned, firstStartMs);
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
        }
    }
}
