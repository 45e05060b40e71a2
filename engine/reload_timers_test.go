package engine

import (
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

// TestInspectAfterReloadKeepsTimers: a key moved to a new rule set by a state walk
// (Inspect, as serve's metrics loop runs it) keeps its windows' deadlines: its
// partial match still times out when time moves on without more of its events.
func TestInspectAfterReloadKeepsTimers(t *testing.T) {
	for _, ooo := range []time.Duration{0, 2 * time.Second} {
		rs := testRuleSet(t)
		sink := &sinkCollector{}
		eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: ooo}, rs, sink, &dlqCollector{})
		const s = int64(1_700_000_000_000)
		if _, err := eng.Ingest(ctx, 0, records([]testEvent{{ID: "buy", Card: "a", TS: s, Kind: "capture", Amount: 50}})); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.SwapRules(ctx, testRuleSet(t)); err != nil { // the same rules: refunds keeps its run
			t.Fatal(err)
		}
		if _, err := eng.Inspect(ctx, false); err != nil {
			t.Fatal(err)
		}
		// Another key's event moves the partition's time past a's window (60 s).
		if _, err := eng.Ingest(ctx, 0, records([]testEvent{{ID: "later", Card: "b", TS: s + 120_000, Kind: "login", Amount: 1}})); err != nil {
			t.Fatal(err)
		}
		if err := eng.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		n := len(sink.matching(func(a *alerts.Alert) bool {
			return a.RuleID == "refunds" && a.Kind == alerts.KindTimeout && a.Key == "a"
		}))
		if n != 1 {
			t.Errorf("out-of-orderness %v: %d timeout alerts of refunds for a once time passed its window, want 1", ooo, n)
		}
		if err := eng.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := eng.Inspect(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		want := 0
		if ooo > 0 {
			want = 1 // b: its journal follows its partition's watermark, which the end of the stream does not move
		}
		if st.Keys != want {
			t.Errorf("out-of-orderness %v: %d keys held after the end of the stream, want %d", ooo, st.Keys, want)
		}
		stop()
	}
}
