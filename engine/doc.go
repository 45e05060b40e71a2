// Package engine is cepd's streaming runtime: it takes raw JSON events from sources
// (REST ingest, files, Kafka partitions), decodes them by the schema, orders them per key
// in event time under per-partition watermarks, routes each key to the one shard worker
// that owns it, runs every rule's matcher for the key, and turns matches and timed-out
// partial matches into alerts.
//
// Concurrency: Ingest may be called from many goroutines, but calls for one partition
// must not overlap (a partition is one ordered stream; the engine serialises them with a
// per-partition lock). Each shard is a goroutine that alone owns its keys' state, so
// matching takes no locks. Shard queues are bounded: when the matcher falls behind,
// Ingest blocks (backpressure) rather than buffering without limit. Sinks are called from
// shard goroutines and must be safe for concurrent use; so is Config.OnAlert, told of
// each alert (for metrics). Partitions, CheckpointStats and Stats read atomics only, so
// metrics can read them at any time without waiting for a shard.
//
// Time: each source partition has a watermark (its max event time − out-of-orderness).
// A key belongs to one partition (Kafka keys its messages), so the key's events are
// matched in event-time order and judged late against that partition's watermark alone:
// with zero out-of-orderness an in-order event is matched the moment it arrives, whatever
// other partitions do; with more, it waits in the key's buffer until the watermark passes
// it. The engine watermark is the minimum over active partitions; it carries idle
// partitions' time forward so their windows still close. A partition is idle only with
// nothing unread: silent for the idle timeout since it appeared, was restored or last
// ingested, and no backlog reported by its source (SetBacklog); so a restored partition
// whose events are still to be read never has its windows closed by another's time. Late events follow the
// configured policy and are counted. Window expiry and timeouts fire as time advances,
// on idle keys too (per-partition timer heaps).
package engine
