package engine

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// TestRestoreReplacesStaleState: a partition restored into an engine that still holds
// state of it (an earlier ownership whose removal did not run or finish) gets exactly
// the checkpoint's state: no key, partial match or watermark of the earlier ownership
// outlives the restore. The alerts up to the checkpoint and those after the restore,
// resuming at the checkpoint's offset, are exactly an uninterrupted run's.
func TestRestoreReplacesStaleState(t *testing.T) {
	evs := genEvents(21, 40, 5000)
	delayWithinKey(evs)
	recs := records(evs)
	rs := testRuleSet(t)
	cfg := Config{Shards: 2, OutOfOrderness: 2 * time.Second}
	want, _, _ := run(t, rs, cfg, recs, 100)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sink := &sinkCollector{}
	e := freshCheckpointed(t, ctx, cfg, rs, sink)
	ingest := func(from, to int) {
		t.Helper()
		ingestChunks(t, ctx, e, recs[from:to])
		if err := e.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const cut = 2000
	ingest(0, cut)
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	before := slices.Clone(sink.all)
	sink.mu.Unlock()
	ingest(cut, 4000) // state the checkpoint does not hold

	meta, err := e.Restore(ctx, 0, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if meta.Offset != cut-1 {
		t.Fatalf("restored offset %d, want %d", meta.Offset, cut-1)
	}
	sink.mu.Lock()
	n := len(sink.all)
	sink.mu.Unlock()
	ingest(int(meta.Offset)+1, len(recs))
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	after := slices.Clone(sink.all[n:])
	sink.mu.Unlock()
	got := alertLines(append(before, after...))
	if !slices.Equal(got, want) {
		extra, missing := 0, 0
		for _, l := range got {
			if !slices.Contains(want, l) {
				extra++
			}
		}
		for _, l := range want {
			if !slices.Contains(got, l) {
				missing++
			}
		}
		t.Fatalf("%d alerts before the checkpoint and after the restore, want %d (%d not in the uninterrupted run, %d missing)",
			len(got), len(want), extra, missing)
	}
}

// freshCheckpointed starts an engine of cfg and rs with sink, checkpointing to a new
// store, with partition 0 restored (from nothing); both close when the test ends.
func freshCheckpointed(t *testing.T, ctx context.Context, cfg Config, rs *RuleSet, sink *sinkCollector) *Engine {
	t.Helper()
	store := openStore(t, t.TempDir())
	t.Cleanup(func() { store.Close() })
	e := startCheckpointed(t, ctx, store, cfg, rs, sink, &dlqCollector{})
	t.Cleanup(e.Close)
	if _, err := e.Restore(ctx, 0, slog.Default()); err != nil {
		t.Fatal(err)
	}
	return e
}
