// Package state owns cepd's checkpointed per-key state: the KeyState model (a key's
// events, its rules' matcher snapshots, its journal of re-matchable events, and opaque
// sections for future kinds of per-key state), its compact versioned binary encoding,
// the Checkpoint model, the Store interface with its contract, and the local-files
// backend (FileStore). Package statetest holds the conformance suite every Store passes.
//
// Encoding: AppendKeyState and DecodeKeyState are pure functions, safe for concurrent
// use. A blob names the format version and the schema fingerprint it was written under,
// and ends in a CRC-32C; decoding rejects damaged, truncated, oversized, foreign or newer
// blobs with an error wrapping ErrCorrupt, ErrVersion or ErrSchemaMismatch and never
// panics, so a bad key costs that key, not the partition. A blob written under an
// ancestor of the schema (the same fields before optional ones were added at the end,
// event.Compatible) is not foreign: it decodes with the added fields absent. The other
// way round needs the wider schema, which the blob names by fingerprint only: a Decoder
// that has learnt it (the engine saves each checkpoint's schema with it) decodes such a
// blob with the running schema's fields, reading and dropping the values of the others.
//
// Checkpoints: the engine's shards own the live key state. At a checkpoint barrier the
// engine encodes the keys changed since the previous checkpoint of a partition and hands
// them, with the partition's offset and watermark, to Store.Save, which applies them
// atomically; on start or on a partition assignment it calls Store.Claim, then
// Store.Load, and re-reads the source after the loaded offset.
//
// Concurrency: Store implementations are safe for concurrent use; see Store for what is
// expected of callers (one writer per partition, fenced by epoch). A KeyState is plain
// data owned by whoever built or decoded it.
package state
