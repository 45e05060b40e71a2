package engine

import (
	"context"
	"testing"
	"time"
)

// TestRearmHoldsMatchesCompletedByTime: a rearm hold drops a later match whose last event
// comes before the hold's end even when time completes that match (a not-followed-by at
// the end of its window) after the hold's end, in a later timer than the first match's.
func TestRearmHoldsMatchesCompletedByTime(t *testing.T) {
	rs := testRulesOf(t, testRules[1]+"rearm: {after: 20s}\n") // auth-no-capture: 30 s window
	const s = int64(1_700_000_000_000)
	for _, steps := range [][]int64{{45_000}, {35_000, 45_000}, {31_000, 36_000, 41_000, 45_000}} {
		sink := &sinkCollector{}
		eng, err := New(Config{Shards: 1}, rs, sink, &dlqCollector{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		eng.Start(ctx)
		recs := []testEvent{{ID: "a1", Card: "k", TS: s, Kind: "auth", Amount: 200}, {ID: "a2", Card: "k", TS: s + 10_000, Kind: "auth", Amount: 200}}
		for i, d := range steps { // another key's events move the partition's time on
			recs = append(recs, testEvent{ID: "t" + string(rune('0'+i)), Card: "other", TS: s + d, Kind: "login", Amount: 1})
		}
		if _, err := eng.Ingest(ctx, 0, records(recs)); err != nil {
			t.Fatal(err)
		}
		if err := eng.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var got []string
		sink.mu.Lock()
		for _, a := range sink.all {
			got = append(got, a.Steps[0].Events[0].ID)
		}
		sink.mu.Unlock()
		if len(got) != 1 || got[0] != "a1" {
			t.Errorf("time moved by %v: alerts on %v, want [a1] (a2 is 10 s after a1, within its 20 s hold)", steps, got)
		}
		eng.Close()
		cancel()
	}
}
