package engine

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/fraudtest"
)

// TestIngestHeldCheckpoint: a key space fed by a source of its own (SpaceSources, as the
// claims of a repartition topic feed it) through IngestHeld. The blob the source gives is
// saved with the partition's checkpoint, at the same cut as the covered offset, and given
// back after a restore; the records released after the restore have offsets below that
// offset (they were held at the checkpoint) and must still be matched: the alerts of the
// two engines together are those of one engine fed everything. Without SpaceSources
// exempting them from partition.restoredTo, the restored key space drops them as covered.
func TestIngestHeldCheckpoint(t *testing.T) {
	rs := keySpaceRulesOf(t, keySpaceRules[:2]...) // a card rule, a device rule
	recs, _, _ := keySpaceEvents(3, 1200)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Shards: 2, KeySpaces: true, SpaceSources: true}
	feed := func(e *Engine, recs []Record, covered int64, held []byte) {
		t.Helper()
		dev := e.KeySpace("device")
		if _, err := dev.IngestHeld(ctx, 7, recs, covered, held); err != nil {
			t.Fatal(err)
		}
		if err := dev.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ref := &sinkCollector{}
	e0 := startCheckpointed(t, ctx, openStore(t, t.TempDir()), cfg, rs, ref, &dlqCollector{})
	feed(e0, recs, recs[len(recs)-1].Offset, nil)
	e0.Close()
	if len(ref.all) < 5 {
		t.Fatalf("only %d device alerts: the test shows nothing", len(ref.all))
	}

	dir := t.TempDir()
	store := openStore(t, dir)
	got := &sinkCollector{}
	e1 := startCheckpointed(t, ctx, store, cfg, rs, got, &dlqCollector{})
	if _, err := e1.KeySpace("device").Restore(ctx, 7, slog.Default()); err != nil {
		t.Fatal(err)
	}
	// The first half is released; the rest is held by the source: only its blob has it.
	half, covered := len(recs)/2, recs[len(recs)-1].Offset
	feed(e1, recs[:half], covered, []byte("held: the second half"))
	if err := e1.KeySpace("device").Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if off := e1.KeySpace("device").CheckpointedOffset(7); off != covered {
		t.Fatalf("checkpointed offset %d, want the covered %d", off, covered)
	}
	e1.Close()
	store.Close()

	e2 := startCheckpointed(t, ctx, openStore(t, dir), cfg, rs, got, &dlqCollector{})
	defer e2.Close()
	meta, err := e2.KeySpace("device").Restore(ctx, 7, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if !meta.Found || meta.Offset != covered {
		t.Fatalf("restored %+v, want offset %d", meta, covered)
	}
	if held := e2.KeySpace("device").Held(7); !bytes.Equal(held, []byte("held: the second half")) {
		t.Fatalf("held blob after the restore: %q", held)
	}
	feed(e2, recs[half:], covered, nil)
	want, have := slices.Compact(fraudtest.AlertIDs(ref.all)), slices.Compact(fraudtest.AlertIDs(got.all))
	if !slices.Equal(want, have) {
		t.Fatalf("alerts: %d across the restore, %d uninterrupted:\n got %v\nwant %v", len(have), len(want), have, want)
	}
	t.Logf("%d device alerts, the same across a checkpoint holding half the records", len(want))
}
