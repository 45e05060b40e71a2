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
// shard goroutines and must be safe for concurrent use.
//
// Time: an event is late when its event time is behind the engine watermark (the minimum
// over active partitions of max event time − out-of-orderness); late events follow the
// configured policy and are counted. Events of a key are matched in event-time order; an
// event waits only until the watermark passes it, so with zero out-of-orderness in-order
// events are matched immediately. Window expiry and timeouts fire as the watermark
// advances, on idle keys too.
package engine
