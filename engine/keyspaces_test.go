package engine

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event/eventtest"
	"github.com/cepd/cepd/internal/fraudtest"
)

// TestKeySpacesCheckpointRestore: an engine running every key space is stopped at a random
// point after a checkpoint, restored into a fresh engine from the same store and fed again
// from the offset Restore returns: the distinct alerts of both runs are exactly those of
// one uninterrupted run, in every key space. Half the runs checkpoint one key space alone
// further on before the stop, so the key spaces restore different offsets: the ones
// further on must drop what their checkpoint covers (partition.restoredTo), or they match
// those events twice.
func TestKeySpacesCheckpointRestore(t *testing.T) {
	rs := keySpaceRulesOf(t, keySpaceRules...)
	recs, _, _ := keySpaceEvents(5, 4000)
	ref, _, _ := runKeySpaces(t, rs, Config{Shards: 2}, recs, 100)
	want := fraudtest.AlertIDs(ref)
	r := rand.New(rand.NewPCG(7, 7))
	for run := range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		dir := t.TempDir()
		cfg := Config{Shards: 2, KeySpaces: true}
		sink := &sinkCollector{}
		store := openStore(t, dir)
		e1 := startCheckpointed(t, ctx, store, cfg, rs, sink, &dlqCollector{})
		if _, err := e1.Restore(ctx, 0, slog.Default()); err != nil {
			t.Fatal(err)
		}
		cut := 100 + r.IntN(len(recs)-600)
		stop := cut + 1 + r.IntN(400)
		feed := func(e *Engine, from, to int) {
			for i := from; i < to; i += 37 {
				if _, _, err := e.IngestWait(ctx, 0, recs[i:min(i+37, to)]); err != nil {
					t.Fatal(err)
				}
			}
		}
		feed(e1, 0, cut)
		if err := e1.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		feed(e1, cut, stop)
		ahead := run%2 == 1
		if ahead { // the device key space alone checkpoints further on
			if err := e1.ks.children()[0].eng.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		e1.Close()
		store.Close()

		store = openStore(t, dir)
		e2 := startCheckpointed(t, ctx, store, cfg, rs, sink, &dlqCollector{})
		meta, err := e2.Restore(ctx, 0, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		// A key space's offset is that of the last record it was given with a key: the
		// records after it at the cut were malformed or lacked the key.
		if c := recs[cut-1].Offset; !meta.Found || meta.Offset > c || meta.Offset < c-20 {
			t.Fatalf("run %d: restored %+v, want about the offset of the common checkpoint %d", run, meta, c)
		}
		if ahead {
			if off := e2.ks.children()[0].eng.checkpointedOffset(0); off <= meta.Offset {
				t.Fatalf("run %d: the device key space restored offset %d, want past %d", run, off, meta.Offset)
			}
		}
		feed(e2, int(meta.Offset), len(recs))
		if err := e2.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e2.Close()
		store.Close()
		cancel()
		got := slices.Compact(fraudtest.AlertIDs(sink.all))
		if !slices.Equal(got, want) {
			t.Fatalf("run %d (cut %d, stop %d, one key space ahead %v): %d distinct alerts, want %d", run, cut, stop, ahead, len(got), len(want))
		}
	}
}

// TestKeySpacesSwapMovesRule: with Config.KeySpaces, a swap that changes a rule's key
// moves it to that key space (made on the spot when new), and Rules lists every rule.
func TestKeySpacesSwapMovesRule(t *testing.T) {
	schema := eventtest.Schema(t, keySpaceSchema)
	cardOnly := keySpaceRules[:1]
	moved := keySpaceRules[:2] // adds device-many-cards, keyed by device
	recs, _, _ := keySpaceEvents(9, 3000)
	half := len(recs) / 2
	sink := &sinkCollector{}
	eng, ctx, stop := startEngine(t, Config{Shards: 2, KeySpaces: true}, compileRules(t, schema, cardOnly), sink, &dlqCollector{})
	defer stop()
	if _, err := eng.Ingest(ctx, 0, recs[:half]); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.SwapRules(ctx, compileRules(t, schema, moved)); err != nil {
		t.Fatal(err)
	}
	if got := ruleIDs(eng.Rules()); !slices.Equal(got, []string{"card-small-then-large", "device-many-cards"}) {
		t.Fatalf("Rules lists %v", got)
	}
	if _, err := eng.Ingest(ctx, 0, recs[half:]); err != nil {
		t.Fatal(err)
	}
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The new key space starts at the swap: its alerts are those of the rule run over the
	// events after it.
	only := func(as []*alerts.Alert) (out []*alerts.Alert) {
		for _, a := range as {
			if a.RuleID == "device-many-cards" {
				out = append(out, a)
			}
		}
		return out
	}
	ref, _, _ := runKeySpaces(t, compileRules(t, schema, moved), Config{Shards: 1}, recs[half:], 500)
	got, want := fraudtest.AlertIDs(only(sink.all)), fraudtest.AlertIDs(only(ref))
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("device-many-cards: %d alerts after the move, want %d", len(got), len(want))
	}
	n := len(got)
	if got := eng.AlertsByRule()["device-many-cards"]; got != uint64(n) {
		t.Fatalf("AlertsByRule device-many-cards %d, sink %d", got, n)
	}
	st, err := eng.Inspect(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.RuleIDs, []string{"card-small-then-large", "device-many-cards"}) {
		t.Fatalf("Inspect rules %v", st.RuleIDs)
	}
	if sn := eng.Stats().Snapshot(); sn.Alerts != uint64(len(sink.all)) || sn.Events != uint64(len(recs)) {
		t.Fatalf("stats: %d alerts %d events, want %d and %d", sn.Alerts, sn.Events, len(sink.all), len(recs))
	}
}
