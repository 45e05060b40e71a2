package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cepd/cepd/state"
)

// TestCheckpointSkipsRemovedPartition: a checkpoint round that listed a partition before
// RemovePartition took it away (an admin checkpoint racing a Kafka release) writes nothing
// for it. Before, it snapshotted the shards after the removal had dropped the partition's
// keys, and a full checkpoint (after the store lost data) saved the partition as empty,
// wiping the state its next owner restores.
func TestCheckpointSkipsRemovedPartition(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, _ := checkpointedPart(t, ctx, 1)
	stored := func() int {
		t.Helper()
		n := 0
		if _, err := e.ckpt.store.Load(ctx, 0, func(key string, _ []byte) error {
			if key[0] != 0 { // not a reserved key (held records, schema)
				n++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	keys := stored()
	if keys == 0 {
		t.Fatal("the checkpoint saved no key: the test needs live state")
	}

	// The round listed partition 0 (checkpointOwn), then the partition is removed before
	// the round reaches it; the store is to be written in full (as after a loss).
	e.mu.Lock()
	p := e.parts[0]
	e.mu.Unlock()
	if err := e.RemovePartition(ctx, 0); err != nil {
		t.Fatal(err)
	}
	e.ckpt.mu.Lock()
	e.ckpt.needFull[0] = true
	e.ckpt.mu.Unlock()
	if err := e.checkpointRepairing(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != keys {
		t.Fatalf("after a checkpoint round raced RemovePartition the store holds %d keys of the partition, want the %d its last checkpoint saved", got, keys)
	}
}

// checkpointedPart starts testRuleSet's engine (2 shards) checkpointing to a new store,
// ingests into partition 0 the first 1/part of the records of 2,000 generated events and
// checkpoints; it returns the engine and all the records.
func checkpointedPart(t *testing.T, ctx context.Context, part int) (*Engine, []Record) {
	t.Helper()
	recs := records(genEvents(5, 40, 2000))
	e := freshCheckpointed(t, ctx, Config{Shards: 2, OutOfOrderness: time.Second}, testRuleSet(t), &sinkCollector{})
	if _, err := e.Ingest(ctx, 0, recs[:len(recs)/part]); err != nil {
		t.Fatal(err)
	}
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	return e, recs
}

// lostOnce is a store whose next delta save fails with state.ErrLost after running
// during (as a partition's release would, while the store answers).
type lostOnce struct {
	state.Store
	during func()
	fired  bool
}

func (s *lostOnce) Save(ctx context.Context, cp *state.Checkpoint) error {
	if !cp.Full && !s.fired {
		s.fired = true
		s.during()
		return fmt.Errorf("lost: %w", state.ErrLost)
	}
	return s.Store.Save(ctx, cp)
}

// TestCheckpointLostThenRemoved: the delta save finds the store lost the partition's data
// and, while it answered, RemovePartition took the partition. The full checkpoint that
// repairs a loss then finds the partition removed: nothing to save, not a failed round
// (before, the round failed with "partition removed" and counted a checkpoint failure).
func TestCheckpointLostThenRemoved(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, recs := checkpointedPart(t, ctx, 2)
	if _, err := e.Ingest(ctx, 0, recs[len(recs)/2:]); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	p := e.parts[0]
	e.mu.Unlock()
	lost := &lostOnce{Store: e.ckpt.store, during: func() {
		p.mu.Lock() // RemovePartition's first step; the rest runs after the round
		p.removed = true
		p.mu.Unlock()
	}}
	e.ckpt.store = lost
	failures := e.ckpt.failures.Load()
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatalf("a checkpoint round, its partition removed while the store answered: %v", err)
	}
	if !lost.fired {
		t.Fatal("the round saved no delta: the test needs one that finds the loss")
	}
	if n := e.ckpt.failures.Load(); n != failures {
		t.Fatalf("%d checkpoint failures counted, want %d", n, failures)
	}
}
