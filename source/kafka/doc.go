// Package kafka is cepd's Kafka source: a sarama consumer group whose claimed partitions
// feed an engine.Engine, each in offset order, with offsets committed only where the
// engine's state can be rebuilt from.
//
// Ownership: a Source owns its sarama consumer group and one goroutine per claimed
// partition (plus one commit loop per group session and one error reader); Run starts
// them and returns only after all have stopped. The engine and the sinks belong to the
// caller, who must keep the engine running until Run returns.
//
// Partitions: a topic's partition maps to the engine partition id
// 2^30 | hash(topic)<<16 | partition (PartitionID): the same in every instance and
// across restarts (checkpoints are stored under it), and clear of the small ids of other
// sources (REST ingest 0, the demo 1). A claim's goroutine is the only caller of Ingest
// for its partition; it hands the engine batches of up to MaxBatch records in offset
// order. When the engine is behind, Ingest blocks, the claim stops reading its channel
// (bounded: sarama's ChannelBufferSize, set to MaxBatch), and sarama stops fetching
// that partition: backpressure, with no queue growing.
//
// Commits: every CommitInterval, and when a partition is released, the source asks the
// engine for each partition's SafeOffset (everything before it processed, nothing before
// it held by a partial match), waits until the sinks have delivered every alert and dead
// letter made so far (Flusher), and only then marks and commits those offsets. So the
// committed offset never runs ahead of what the engine processed, and a crash or a
// rebalance loses no event and no alert: the next owner re-reads from the committed
// offset and rebuilds the partial matches; an alert it derives again has the same id.
// Re-reading is not exact, though: it also re-feeds the later events of keys whose state
// was empty, and a rule with an after-match skip strategy may match that truncated
// history differently (an extra alert). A commit that cannot complete in CommitTimeout
// is skipped, never forced. A partition whose Ingest was interrupted part-way is never
// committed again ("tainted").
//
// Checkpoints (Config.Checkpoints): the exact mode. A claimed partition's state is
// restored from the engine's checkpoint store before it is read and the records it
// covers are skipped; each commit round first checkpoints the engine (under the same
// lock that releases partitions, so no checkpoint sees a partition half removed), and a
// commit never passes a partition's last checkpoint. With a store shared by the
// instances, a handover gives exactly the alerts of an uninterrupted run.
//
// Backlog: a claim tells the engine (Engine.SetBacklog) after its restore and after each
// batch whether the partition's high-water mark is past its read position, and when it
// received nothing for Config.BacklogCheck, asks the broker (beside its loop, on a client
// of its own) with a fetch from its read position at its isolation level whether a record
// it would receive waits, or a transaction is open: no clears the backlog, and a
// question unanswered for a check interval and MaxWait (a stalled broker stalls fetches
// too) sets it. Not the end offset: a topic written in transactions ends in commit
// markers no consumer receives. While it is
// set, the engine never counts the partition idle, so the other partitions' time cannot
// close the windows of keys whose events are still unread.
//
// Rebalances: with the default cooperative-sticky strategy only moved partitions stop;
// with eager strategies every rebalance releases all of them. A released partition's
// work is finished (a barrier), committed as above, and its state removed from the
// engine (RemovePartition) before sarama hands it to another member.
//
// Failures: sarama retries fetches and metadata on its own; when a session fails (the
// coordinator is gone, heartbeats fail) Run joins again with exponential backoff, and
// rebuilds the client after repeated failures. Everything is counted in Stats.
//
// Repartitioning (repartition*.go): a Repartitioner is the first half of re-keying across
// instances (docs/rekeying.md). It reads the source topics in its own group
// (RepartitionGroup) and forwards each decodable event, once per key field it has a value
// for, to RepartitionTopic(group, field), keyed by the value, with the source topic,
// partition, offset and newest event time in headers, plus a watermark marker to every
// repartition partition after each batch and an idle marker when a source partition is
// read to its end and silent. Each batch of a source partition is one transaction of a
// producer whose transactional id names that partition: the records, the markers and the
// source offset after them commit together, a new owner's producer fences the last one,
// and a read_committed reader sees every event forwarded exactly once across crashes
// (TestRepartitionKill9).
//
// The second half is a Source with Config.Merge over a repartition topic (merge.go): each
// claim keeps every source partition's watermark from the headers and markers, holds
// records until the minimum over the source partitions not idle passes them, and hands
// them to the engine in (event time, source partition, source offset) order with
// Engine.IngestHeld, which saves what the claim holds with the partition's checkpoints, so
// a restore (Engine.Held) starts the merge where the checkpoint left it. cepd serve runs
// both for every key field a rule uses (TestProcessesRekeyKill9).
package kafka
