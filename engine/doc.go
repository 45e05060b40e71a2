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
// Time and order: keys are independent. An event is matched the moment it arrives when
// it is at least as new as its key's newest matched event, whatever other keys did and
// whatever the out-of-orderness: cross-key disorder never delays or drops an event.
// Only an event older than its key's newest matched event needs the out-of-orderness.
// Each source partition has a watermark (its max event time − out-of-orderness; a key
// belongs to one partition, as Kafka keys its messages). With out-of-orderness a key
// keeps a journal of its events not yet behind the watermark and a snapshot of its
// matchers from before them (order.go; copy on write, nfa.Matcher.Snapshot); an out-of-order event not behind the watermark
// is re-matched: the snapshot replays the journal with the event in its (time, arrival)
// place, alerts the corrected order adds are delivered, and alerts it no longer derives
// (already out) are counted as superseded. An event behind the watermark (with zero
// out-of-orderness: any event older than its key's newest) is late and follows the late
// policy (dead-letter, drop or process), counted.
//
// Timers follow the watermark: windows close, and absence matches and timeouts leave,
// when the key's partition's watermark passes them; the engine watermark (the minimum
// over active partitions) carries idle partitions forward (per-partition timer queues).
// A timer that fired is final: if other keys' events ran the watermark more than the
// out-of-orderness past a key's own events, that key's window closes before its later
// events arrive. So the alerts of a stream whose per-key order holds are the same
// whatever the interleaving of keys when the out-of-orderness covers the interleaving's
// disorder; its events are never late in any case.
//
// A key's timer reads only the matchers due (timers.go): the key keeps the deadlines of
// its first five live matchers (in rule order, 32-bit offsets from its newest event) and
// what all of them hold, read when the key was last settled after an event and kept by
// the timers for the matchers they advance, so neither the timer, nor the key's next
// deadline, nor the memory budget's account reads the others. A key whose deadlines are
// unknown (rules swapped, a deadline that does not fit, the journal's fold recounting the
// matchers) reads every matcher once.
//
// IngestWait (and Submit) report each event's Outcome once the shards have handled it;
// the match alerts completed by those events have been delivered to the sink by then.
// SubmitCollect also returns, per event, the alerts it completed (decide.go), for inline
// decisions: with Config.KeySpaces, those of every key space (each child collects its
// own, merged per event by submitSpaces).
//
// Cooldowns (cooldown.go): a rule's cooldown is the key's state, decided in event time,
// checkpointed in the key's sections, carried by the journal's base and replayed with it;
// suppressed alerts are counted (Stats.Cooled, Engine.CooledByRule), never delivered.
//
// Idleness: a partition is idle only with nothing unread: silent for the idle timeout
// since it appeared, was restored or last ingested, and no backlog reported by its
// source (SetBacklog); so a restored partition whose events are still to be read never
// has its windows closed by another partition's time.
//
// Key spaces: an Engine runs the rules keyed by its schema's key; rules with `key:`
// another field are left out (logged), unless Config.KeySpaces is set (KeySpaces, replay,
// tests, backtests, the embedded server): then the Engine owns one engine per other key
// field over the same events (keyspaces.go), ingests into its own and hands the records
// it accepted to the others in the same order, with the events it decoded them into (the
// others take those, rekeyed by their field, rather than decode the bytes again:
// jsondecode.Decoder.Rekey); events without a key space's field are
// counted there (Missing) and skipped: not rejected, so no error text, copy or dead letter
// is made for them (partition.skip; most events, where few carry the field). Swaps, checkpoints and restores, idleness,
// statistics and inspection reach every key space: each key space's checkpoint of a
// partition is stored under an id of its own (spaceStore), a restore returns the lowest
// offset of them, and each key space drops the records its checkpoint already covers when
// they are replayed (partition.restoredTo).
//
// Schemas of checkpoints (schema_record.go): every checkpoint that writes key states also
// saves the running schema's text under a reserved key, so a restore reads key states written
// under a wider schema (optional fields added live that this instance does not run yet)
// with its own fields, and refuses, with why, state written under a schema its own does
// not prefix, instead of dropping every key (the source retries the restore later). A
// restore that fails forgets the partition, so that no checkpoint round saves what the
// engine holds of it over the checkpoint it could not read.
//
// Memory: each key and rule's matcher enforces Config.Budget (nfa.Budget), and each shard
// its share of Config.MemoryBudget over the accounted bytes of its keys (their matchers
// and their journals' velocity logs; budget.go). Cuts
// are counted in Stats (by limit and by rule) and logged at most once per shard every
// 10 s.
package engine
