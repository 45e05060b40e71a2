package engine

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// LatePolicy says what happens to an event older than its key's newest matched event and
// behind the watermark.
type LatePolicy string

// Late policies. All of them count the event.
const (
	LateDeadLetter LatePolicy = "dead-letter" // sent to the dead-letter sink with reason "late"
	LateDrop       LatePolicy = "drop"        // discarded
	LateProcess    LatePolicy = "process"     // matched anyway, out of order
)

// Config tunes the runtime. The zero value is usable: Defaults fills it in.
type Config struct {
	// Shards is the number of shard workers (default: GOMAXPROCS).
	Shards int
	// OutOfOrderness is how far behind its partition's newest event an event older than its
	// key's newest may arrive and still be matched in its place (re-matched from the key's
	// journal); it also sets the watermark timers follow (newest − OutOfOrderness). Events
	// in order for their key are matched at once whatever it is.
	OutOfOrderness time.Duration
	// MaxJournal bounds the events a key keeps re-matchable within the out-of-orderness
	// (default 1024): beyond it the oldest are folded into the key's snapshot, and events
	// older than them are late. A re-match replays the journal, so this bounds its cost.
	MaxJournal int
	// IdleTimeout: a partition without events for this long stops holding the watermark
	// back (0 = never).
	IdleTimeout time.Duration
	// Late is the late-event policy (default dead-letter).
	Late LatePolicy
	// QueueSize bounds each shard's input queue in batches (default 64).
	QueueSize int
	// BatchSize is the most events the ingest path hands a shard at once (default 256):
	// a batch goes when full, at the end of an Ingest call, or at once when its shard waits
	// on an empty queue (the events decoded so far need not wait for the rest of the call).
	BatchSize int
	// MaxRunsPerKey bounds live partial matches per key and rule (default nfa's).
	MaxRunsPerKey int
	// Budget bounds the memory of each key and rule (zero fields: nfa's defaults); what
	// exceeds it is cut as nfa.Budget says, counted and logged.
	Budget nfa.Budget
	// MemoryBudget bounds the accounted bytes of all key states (default
	// DefaultMemoryBudget), each shard holding an equal share; see shard.account.
	MemoryBudget int64
	// Log receives the engine's warnings (default slog.Default()).
	Log *slog.Logger
	// Tap, if set, sees every event the ingest path accepts, after decoding and before
	// matching: its partition, key, event time (ms) and raw bytes. It runs on the ingest
	// goroutine of the partition (concurrently for different partitions), must be quick and
	// must copy raw to keep it. The backtests' retained events are fed this way.
	Tap func(part int, key string, t int64, raw []byte)
	// Bounds limit what an event may hold beyond its schema: string sizes, the range of
	// its time, and, for a live source, how far ahead of the wall clock it may be. An
	// event outside them is rejected (a RecordError, dead-lettered) and moves no watermark.
	Bounds event.Bounds
	// RecordProcessingTime stamps alerts with the processing time they were made at
	// (off for reproducible offline output).
	RecordProcessingTime bool
	// OnAlert, if set, sees every alert made (metrics); see AlertObserver.
	OnAlert AlertObserver
	// OnLatency, if set, is told the parts of every sampled alert's latency (see
	// LatencyObserver); the shards then read the clock once for every event they take
	// up (benchmarks: `cepd bench` sets it for its paced run only).
	OnLatency LatencyObserver
	// KeySpaces makes the engine run the rules keyed by other fields than the schema's
	// key too, each key field in an engine of its own that this one owns and feeds
	// (keyspaces.go). For a source whose partitions this process alone feeds (the embedded
	// server, replay); not for a Kafka claim, whose devices span every partition.
	KeySpaces bool
	// SpaceSources, with KeySpaces, says the other key spaces are fed by sources of their
	// own (the claims of the repartition topics, docs/rekeying.md), each with its engine
	// from KeySpace: Ingest, Submit, Restore, Checkpoint and CheckpointedOffset then act
	// on the engine's own key space only, and each source restores and checkpoints its
	// key space's partitions itself. Rule swaps, statistics, health, inspection, idleness
	// and flushes still cover every key space.
	SpaceSources bool
}

// Defaults returns c with zero fields set to their defaults.
func (c Config) Defaults() Config {
	if c.Shards <= 0 {
		c.Shards = runtime.GOMAXPROCS(0)
	}
	if c.Late == "" {
		c.Late = LateDeadLetter
	}
	if c.MaxJournal <= 0 {
		c.MaxJournal = 1024
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 64
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	c.Budget = c.Budget.WithDefaults()
	if c.MemoryBudget <= 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	switch c.Late {
	case LateDeadLetter, LateDrop, LateProcess, "":
	default:
		return fmt.Errorf("late policy %q: want dead-letter, drop or process", c.Late)
	}
	if c.OutOfOrderness < 0 {
		return fmt.Errorf("out-of-orderness must not be negative")
	}
	if c.Shards > 1024 {
		return fmt.Errorf("%d shards is more than 1024", c.Shards)
	}
	if c.Budget.Digits > nfa.MaxBudgetDigits {
		return fmt.Errorf("a budget of %d Dewey digits per key and rule is more than a checkpoint can hold (%d)", c.Budget.Digits, nfa.MaxBudgetDigits)
	}
	if c.Budget.VersionLen > nfa.DefaultBudgetVersionLen {
		return fmt.Errorf("a budget of %d Dewey digits per version is more than a checkpoint can store (%d)", c.Budget.VersionLen, nfa.DefaultBudgetVersionLen)
	}
	return nil
}
