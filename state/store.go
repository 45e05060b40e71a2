package state

import (
	"context"
	"errors"
)

// Checkpoint is one atomic step for one source partition: the states of the keys that
// changed since the partition's previous checkpoint, and the position they are complete
// up to.
type Checkpoint struct {
	Partition int
	// Epoch is the writer's owner epoch (fencing): a Save with an epoch lower than the
	// stored one fails with ErrFenced.
	Epoch uint64
	// Offset: every record up to and including Offset is reflected in the state.
	Offset    int64
	Watermark int64
	// RuleSet is the fingerprint of the rule set the state was built with.
	RuleSet string
	// Upserts are the keys changed since the last checkpoint, with their encoded state
	// (AppendKeyState). When a key appears twice the last one wins.
	Upserts []KeyBlob
	// Deletes are the keys that became empty. They apply after Upserts.
	Deletes []string
	// Continues marks a checkpoint that builds on the partition's stored state, which
	// this writer claimed (or saved) before: a delta. If that state has vanished since
	// (a Redis that restarted empty, a log file removed), Save fails with ErrLost and
	// writes nothing, instead of leaving a partial state that a restore would take for
	// the whole. The writer then saves a Full checkpoint.
	Continues bool
	// Full marks a checkpoint holding every key of the partition: the stored keys are
	// replaced by Upserts (Deletes are ignored), whatever the store held before.
	Full bool
}

// KeyBlob is one key's encoded state.
type KeyBlob struct {
	Key  string
	Data []byte
}

// Meta describes a partition's stored state.
type Meta struct {
	// Epoch is the partition's owner epoch (raised by Claim and by Save), also when no
	// checkpoint was ever saved.
	Epoch uint64
	// Offset, Watermark and RuleSet are those of the last saved checkpoint.
	Offset    int64
	Watermark int64
	RuleSet   string
	// Keys is the number of keys in the state.
	Keys int
	// Found reports whether a checkpoint was ever saved for the partition; when false,
	// the caller starts the partition from scratch.
	Found bool
}

// Store keeps checkpointed state per source partition: a map from key to blob plus the
// partition's Meta. Backends are the local data directory (FileStore) and Redis.
//
// Atomicity: Save applies a whole checkpoint or nothing; after a crash or a failed call
// at any moment, Load sees the state either before or after it, never a mix. The state
// after checkpoints 1..n is the state any prefix 1..k of them produced, with the Offset
// of checkpoint k, so re-reading the source from Offset+1 reproduces the rest.
//
// Errors: a Save that returns an error may or may not have been applied (a timeout or a
// failed fsync cannot tell); the caller either retries the same checkpoint, which is
// idempotent (re-saving it yields the same state and Meta), or reloads the partition
// with Load. ErrFenced is definite: nothing was written. Errors wrapping ErrCorrupt from
// Load mean the stored state cannot be trusted as a whole; recoverable damage (a torn
// last write) is repaired and reported by the backend instead.
//
// Lost data: a store that loses a partition's data (a Redis restarted without
// persistence, a data directory removed) would otherwise take the next delta for the
// whole state. A Continues Save checks that a record written by Claim or by an earlier
// Save is still there, and fails with ErrLost when it is not; a Full Save replaces the
// partition's keys.
//
// Fencing: a partition has an owner epoch that only grows. An instance that takes over a
// partition calls Claim and saves with the epoch it returns; every later Save carrying a
// lower epoch (from an instance that lost the partition but does not know it yet) fails
// with ErrFenced and changes nothing. A Save with a higher epoch than the stored one
// raises it.
//
// Concurrency: methods are safe for concurrent use. Calls for different partitions are
// independent and may run in parallel. Each partition has one writer at a time (the
// engine's shard barrier serialises its checkpoints); concurrent Saves to one partition
// are applied one after the other in an unspecified order. Two instances believing they
// own a partition are told apart by the epoch, not by the store's locking.
//
// Load does not interpret blobs (DecodeKeyState does, and reports a corrupt key on its
// own, so one bad key need not lose the partition). Context cancellation may abort a call
// with the context's error, with the same uncertainty as any other Save error.
type Store interface {
	// Save applies cp atomically: after a crash at any moment, Load sees either all of it
	// or none of it. It does not retain cp or its blobs after it returns.
	Save(ctx context.Context, cp *Checkpoint) error
	// Load calls fn for every key of the partition (in no particular order), then returns
	// the partition's metadata. data is valid only during the call: fn must copy what it
	// keeps. If fn returns an error, Load stops and returns it (wrapped).
	Load(ctx context.Context, partition int, fn func(key string, data []byte) error) (Meta, error)
	// Claim raises the partition's owner epoch to at least epoch and above every epoch
	// claimed or saved before, and returns the epoch now owned (for fencing). It is not
	// idempotent: every call fences all earlier epochs.
	Claim(ctx context.Context, partition int, epoch uint64) (uint64, error)
	// Close releases the store's resources. Calls after Close return ErrClosed.
	Close() error
}

var (
	// ErrFenced: a Save carried an epoch lower than the partition's owner epoch; another
	// instance has claimed the partition. Nothing was written.
	ErrFenced = errors.New("state: partition claimed by a newer owner (fenced)")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("state: store closed")
	// ErrLocked: the data directory is in use by another process or store.
	ErrLocked = errors.New("state: data directory locked")
	// ErrLost: a Continues checkpoint found no stored state to continue (the store lost
	// the partition's data: restarted empty, files removed). Nothing was written.
	ErrLost = errors.New("state: the partition's stored state is gone (store restarted empty or files removed)")
)
