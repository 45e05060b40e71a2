package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestRestoreNarrowerSchema (review): a partition checkpointed by an instance that took
// a live schema change (a field added) and restored by one that has not applied it yet
// (the change notice is in flight, or its reload failed) must not start every key
// fresh: its keys are dropped one by one as "cannot be restored", and the alerts their
// partial matches would have made are lost.
func TestRestoreNarrowerSchema(t *testing.T) {
	recs := schemaChangeInput(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	store := openStore(t, dir)
	e1 := startCheckpointed(t, ctx, store, Config{Shards: 2}, widerRuleSet(t), &sinkCollector{}, &dlqCollector{})
	if _, err := e1.Restore(ctx, 0, slog.Default()); err != nil {
		t.Fatal(err)
	}
	if _, err := e1.Ingest(ctx, 0, recs[:2000]); err != nil {
		t.Fatal(err)
	}
	if err := e1.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	e1.Close()
	store.Close()

	store = openStore(t, dir)
	defer store.Close()
	e2 := startCheckpointed(t, ctx, store, Config{Shards: 2}, testRuleSet(t), &sinkCollector{}, &dlqCollector{})
	defer e2.Close()
	if _, err := e2.Restore(ctx, 0, slog.Default()); err != nil {
		t.Logf("restore refused: %v (acceptable: the partition is not taken)", err)
		return
	}
	if st := e2.CheckpointStats(); st.Corrupt != 0 {
		t.Fatalf("restored under the schema before the change: %d keys dropped as corrupt, %d restored", st.Corrupt, st.Restored)
	}
}
