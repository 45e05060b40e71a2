package engine

import (
	"context"
	"testing"
	"time"
)

// TestCheckpointSkipsRemovedPartition: a checkpoint round that listed a partition before
// RemovePartition took it away (an admin checkpoint racing a Kafka release) writes nothing
// for it. Before, it snapshotted the shards after the removal had dropped the partition's
// keys, and a full checkpoint (after the store lost data) saved the partition as empty,
// wiping the state its next owner restores.
func TestCheckpointSkipsRemovedPartition(t *testing.T) {
	evs := genEvents(5, 40, 2000)
	recs := records(evs)
	for i := range recs {
		recs[i].Offset = int64(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := freshCheckpointed(t, ctx, Config{Shards: 2, OutOfOrderness: time.Second}, testRuleSet(t), &sinkCollector{})
	if _, err := e.Ingest(ctx, 0, recs); err != nil {
		t.Fatal(err)
	}
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
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
