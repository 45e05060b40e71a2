package engine

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/state"
)

// startCheckpointed returns a started engine that checkpoints to store.
func startCheckpointed(t testing.TB, ctx context.Context, store state.Store, cfg Config, rs *RuleSet, sink alerts.Sink, dlq DeadLetterSink) *Engine {
	t.Helper()
	e, err := New(cfg, rs, sink, dlq)
	if err != nil {
		t.Fatal(err)
	}
	e.EnableCheckpoints(store, nil)
	e.Start(ctx)
	return e
}

func openStore(t *testing.T, dir string) *state.FileStore {
	t.Helper()
	st, err := state.OpenDir(dir, state.FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// leg is what one engine of a run cut by a restart gave: its alerts, its counters and
// checkpoint counters (read once it is closed), and where its restore resumed.
type leg struct {
	alerts []*alerts.Alert
	stats  Snapshot
	ckpt   CheckpointStats
	meta   state.Meta
}

// checkpointAt runs an engine of cfg and rs over recs[:cut], checkpointing to a new store
// in dir, checkpoints it and closes it.
func checkpointAt(t *testing.T, ctx context.Context, dir string, cfg Config, rs *RuleSet, recs []Record, cut int) leg {
	t.Helper()
	return checkpointEvery(t, ctx, dir, cfg, rs, recs, cut, 0, nil)
}

// checkpointEvery is checkpointAt that also checkpoints after the chunk of 100 records
// starting at each multiple of every (0: only at the cut), and calls inspect (if not nil)
// on the engine after its last checkpoint and a barrier, before closing it.
func checkpointEvery(t *testing.T, ctx context.Context, dir string, cfg Config, rs *RuleSet, recs []Record, cut, every int, inspect func(*Engine)) leg {
	t.Helper()
	store := openStore(t, dir)
	defer store.Close()
	sink := &sinkCollector{}
	e := startCheckpointed(t, ctx, store, cfg, rs, sink, &dlqCollector{})
	if _, err := e.Restore(ctx, 0, slog.Default()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < cut; i += 100 {
		if _, err := e.Ingest(ctx, 0, recs[i:min(i+100, cut)]); err != nil {
			t.Fatal(err)
		}
		if every > 0 && i%every == 0 {
			if err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The last checkpoint is taken with the last calls' events still queued to the
	// shards (no barrier before it): it must cover them, as a checkpoint taken while the
	// source runs does.
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if inspect != nil {
		inspect(e)
	}
	e.Close()
	return leg{alerts: sink.all, stats: e.Stats().Snapshot(), ckpt: e.CheckpointStats()}
}

// resumeAfter starts an engine of cfg and rs on the store in dir, restores partition 0,
// feeds it the records of recs after the restored offset (all of them if the store holds
// no checkpoint), flushes it and closes it.
func resumeAfter(t *testing.T, ctx context.Context, dir string, cfg Config, rs *RuleSet, recs []Record) leg {
	t.Helper()
	store := openStore(t, dir)
	defer store.Close()
	sink := &sinkCollector{}
	e := startCheckpointed(t, ctx, store, cfg, rs, sink, &dlqCollector{})
	meta, err := e.Restore(ctx, 0, slog.Default())
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	from := 0
	if meta.Found {
		from = int(meta.Offset) + 1
	}
	if from > len(recs) {
		t.Fatalf("restored %+v, past the %d records", meta, len(recs))
	}
	ingestChunks(t, ctx, e, recs[from:])
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	e.Close()
	return leg{alerts: sink.all, stats: e.Stats().Snapshot(), ckpt: e.CheckpointStats(), meta: meta}
}

// TestCheckpointRestore: stop at any point after a checkpoint, restore into a fresh
// engine, resume the input after the checkpoint's offset: the alerts of both runs
// together are exactly those of one uninterrupted run. Also with events out of order for
// their key within the out-of-orderness, whose keys' journals the checkpoint carries.
func TestCheckpointRestore(t *testing.T) {
	t.Run("in order", func(t *testing.T) { checkpointRestore(t, genEvents(21, 40, 5000), 0) })
	t.Run("out of order per key", func(t *testing.T) {
		evs := genEvents(21, 40, 5000)
		delayWithinKey(evs)
		checkpointRestore(t, evs, 2*time.Second)
	})
}

func checkpointRestore(t *testing.T, evs []testEvent, ooo time.Duration) {
	checkpointRestoreRules(t, testRuleSet(t), evs, ooo)
}

func checkpointRestoreRules(t *testing.T, rs *RuleSet, evs []testEvent, ooo time.Duration) {
	recs := records(evs)
	want, _, st := run(t, rs, Config{Shards: 2, OutOfOrderness: ooo}, recs, 100)
	if ooo > 0 && st.Rematched == 0 {
		t.Fatal("nothing re-matched: weak test")
	}
	for _, cut := range []int{0, 777, 2500, 4999} {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		before := checkpointEvery(t, ctx, dir, Config{Shards: 2, OutOfOrderness: ooo}, rs, recs, cut, 1000, nil)
		after := resumeAfter(t, ctx, dir, Config{Shards: 3, OutOfOrderness: ooo}, rs, recs)
		if cut > 0 && (!after.meta.Found || int(after.meta.Offset)+1 != cut) {
			t.Fatalf("cut %d: restored %+v", cut, after.meta)
		}
		got := alertLines(append(before.alerts, after.alerts...))
		if !slices.Equal(got, want) {
			t.Fatalf("cut %d: %d alerts across the restart, want %d", cut, len(got), len(want))
		}
		if cut > 0 && after.ckpt.Restored == 0 {
			t.Fatalf("cut %d: nothing restored", cut)
		}
		cancel()
	}
}

// TestCorruptKeyStartsFresh: one key's unreadable state is reported and that key starts
// fresh; every other key restores.
func TestCorruptKeyStartsFresh(t *testing.T) {
	rs := testRuleSet(t)
	recs := records(genEvents(22, 30, 2000))
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store := openStore(t, dir)
	e1, _ := New(Config{Shards: 1}, rs, &sinkCollector{}, &dlqCollector{})
	e1.EnableCheckpoints(store, nil)
	e1.Start(ctx)
	if _, err := e1.Ingest(ctx, 0, recs); err != nil {
		t.Fatal(err)
	}
	if err := e1.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	e1.Close()
	// overwrite one key with garbage
	if err := store.Save(ctx, &state.Checkpoint{Partition: 0, Epoch: 1 << 40, Offset: 1999, Upserts: []state.KeyBlob{{Key: "c3", Data: []byte("garbage")}}}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	store = openStore(t, dir)
	defer store.Close()
	e2, _ := New(Config{Shards: 1}, rs, &sinkCollector{}, &dlqCollector{})
	e2.EnableCheckpoints(store, nil)
	e2.Start(ctx)
	defer e2.Close()
	meta, err := e2.Restore(ctx, 0, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	st := e2.CheckpointStats()
	if !meta.Found || st.Corrupt != 1 || st.Restored == 0 {
		t.Fatalf("meta %+v stats %+v", meta, st)
	}
}

// TestCheckpointWhileMatching: checkpoints taken while events keep flowing are encoded off
// the shard goroutines from exports the shards go on changing after: under the race
// detector this shows the exports share nothing mutable; the last checkpoint restores
// into the same state a quiet engine would save.
func TestCheckpointWhileMatching(t *testing.T) {
	rs := testRuleSet(t)
	recs := records(genEvents(5, 300, 20000))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store := openStore(t, t.TempDir())
	e := startCheckpointed(t, ctx, store, Config{Shards: 2}, rs, &sinkCollector{}, &dlqCollector{})
	defer e.Close()
	if _, err := e.Restore(ctx, 0, slog.Default()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for i := 0; i < len(recs); i += 50 {
			if _, err := e.Ingest(ctx, 0, recs[i:min(i+50, len(recs))]); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	saves := 0
	for ingesting := true; ingesting; saves++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			ingesting = false
		default:
		}
		if err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	barrierCheckpoint(t, ctx, e)
	st, err := e.Inspect(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh engine restored from the last checkpoint holds the same partial matches.
	e2 := startCheckpointed(t, ctx, store, Config{Shards: 2}, rs, &sinkCollector{}, &dlqCollector{})
	defer e2.Close()
	meta, err := e2.Restore(ctx, 0, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	st2, err := e2.Inspect(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Offset != int64(len(recs)-1) || st2.Keys != st.Keys || st2.LiveRuns != st.LiveRuns || st.LiveRuns == 0 {
		t.Errorf("restored offset %d keys %d runs %d; saved from offset %d keys %d runs %d (%d checkpoints)",
			meta.Offset, st2.Keys, st2.LiveRuns, len(recs)-1, st.Keys, st.LiveRuns, saves)
	}
}
