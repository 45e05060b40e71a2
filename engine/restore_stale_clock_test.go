package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestRestoreReplacesStaleIdleness: a partition that went idle, restored into the same
// engine (an earlier ownership whose removal did not run or finish), is active like any
// restored partition, and turns idle again after the idle timeout when nothing comes:
// its restored authorisation then follows the other partition's time and its window
// closes (the absence alert), as it does for a partition restored afresh. (Before, the
// partition kept its stale idle flag while the shards' fresh clock was active: MarkIdle
// skipped it as idle already, and its keys' windows never closed.)
func TestRestoreReplacesStaleIdleness(t *testing.T) {
	rs := testRuleSet(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Shards: 2, IdleTimeout: 20 * time.Millisecond}
	store := openStore(t, t.TempDir())
	defer store.Close()
	sink := &sinkCollector{}
	e := startCheckpointed(t, ctx, store, cfg, rs, sink, &dlqCollector{})
	defer e.Close()
	ingest := func(part int, recs []Record) {
		t.Helper()
		if _, err := e.Ingest(ctx, part, recs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Restore(ctx, 1, slog.Default()); err != nil {
		t.Fatal(err)
	}
	ingest(1, idleRecs(0, testEvent{ID: "a1", Card: "b", TS: t0, Kind: "auth", Amount: 200}))
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	e.MarkIdle(ctx) // partition 1 idle
	ingest(2, idleRecs(0, testEvent{ID: "x1", Card: "x", TS: t0, Kind: "login"}))

	meta, err := e.Restore(ctx, 1, slog.Default())
	if err != nil || !meta.Found {
		t.Fatalf("restore: %v, found %v", err, meta.Found)
	}
	time.Sleep(50 * time.Millisecond) // nothing of partition 1 comes
	ingest(2, idleRecs(1, testEvent{ID: "x2", Card: "x", TS: t0 + 1000, Kind: "login"}))
	e.MarkIdle(ctx)
	ingest(2, idleRecs(2, testEvent{ID: "x3", Card: "x", TS: t0 + 120_000, Kind: "login"}))
	if err := e.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if got := absenceAlerts(sink); len(got) != 1 {
		t.Fatalf("%d absence alerts, want the restored authorisation's window closed by the other partition's time once partition 1 is idle again", len(got))
	}
}

// TestRestoreOfNothingReplacesStalePosition: a partition restored into the same engine
// when the store holds no checkpoint of it yet starts from nothing: its shards' keys are
// dropped, so a checkpoint before its next record does not claim the records of the
// earlier ownership (its offset stays -1, none covered). (Before, the partition kept the
// earlier ownership's last offset, and the checkpoint said its empty state covered them.)
func TestRestoreOfNothingReplacesStalePosition(t *testing.T) {
	rs := testRuleSet(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := freshCheckpointed(t, ctx, Config{Shards: 2}, rs, &sinkCollector{})
	if _, err := e.Ingest(ctx, 0, idleRecs(0, testEvent{ID: "a1", Card: "b", TS: t0, Kind: "auth", Amount: 200},
		testEvent{ID: "a2", Card: "c", TS: t0 + 1, Kind: "auth", Amount: 200})); err != nil {
		t.Fatal(err)
	}
	meta, err := e.Restore(ctx, 0, slog.Default())
	if err != nil || meta.Found {
		t.Fatalf("restore: %v, found %v", err, meta.Found)
	}
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.CheckpointedOffset(0); got != -1 {
		t.Fatalf("checkpointed offset %d after a restore of nothing, want -1 (its state holds no record)", got)
	}
}
