package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/event/eventtest"
	"github.com/cepd/cepd/nfa"
)

// explosiveRules are issue 11's rules: loops that feed each other before a step that never
// matches. Every auth event of 3.00 (only the hostile card sends those) extends every
// partial match the card has.
var explosiveRules = []string{`
id: greedy-loops
pattern:
  - name: a
    where: e.kind == 'auth' && e.amount == 3.0
    times: 1+
    greedy: true
  - name: b
    where: e.kind == 'auth' && e.amount == 3.0
    times: 1+
    greedy: true
  - name: never
    where: e.kind == 'never'
`, `
id: any-loop
pattern:
  - name: a
    where: e.kind == 'auth' && e.amount == 3.0
    times: 1+
    repeat: any
  - name: never
    contiguity: any
    where: e.kind == 'never'
`}

// testBudget is small, so that the tests reach it in a few hundred events.
var testBudget = nfa.Budget{Runs: 500, Nodes: 2000, Digits: 40000, Bytes: 1 << 20, VersionLen: 300}

func explosiveRuleSet(t testing.TB) *RuleSet {
	t.Helper()
	schema := eventtest.Schema(t, testSchema)
	return compileRules(t, schema, append(slices.Clone(testRules), explosiveRules...))
}

// hostileStream interleaves n auth events of card "evil" with the ordinary test stream of
// other cards (every fourth event).
func hostileStream(n int) []Record {
	normal := genEvents(5, 20, n/3)
	var evs []testEvent
	ts := normal[0].TS
	for i := 0; i < n; i++ {
		if i%4 == 3 && len(normal) > 0 {
			ev := normal[0]
			normal = normal[1:]
			ts = max(ts, ev.TS)
			ev.TS = ts
			evs = append(evs, ev)
			continue
		}
		evs = append(evs, testEvent{ID: fmt.Sprintf("x%d", i), Card: "evil", TS: ts, Kind: "auth", Amount: 3})
	}
	return records(evs)
}

// TestBudgetHostileKey reproduces item 1 of issue 11 end to end, on one shard: 1,800 auth
// events for one card under the explosive rules, among other cards' events. Without a
// budget the matcher state of that card grows with the cube of its events (gigabytes by
// 2,500 events). With one, the accounted memory stays within budget × rules, the cuts are
// counted by rule and limit, and the other cards get exactly the alerts they get without
// the hostile card.
func TestBudgetHostileKey(t *testing.T) {
	rs := explosiveRuleSet(t)
	recs := hostileStream(2400)
	cfg := Config{Shards: 1, Budget: testBudget}
	got, _, st := run(t, rs, cfg, recs, 64)
	eng, err := New(cfg, rs, &sinkCollector{}, &dlqCollector{}) // the marks, seen by Inspect
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eng.Start(ctx)
	if _, err := eng.Ingest(ctx, 0, recs); err != nil {
		t.Fatal(err)
	}
	ins, err := eng.Inspect(ctx, false)
	eng.Close()
	if err != nil || ins.KeysCut == 0 {
		t.Fatalf("Inspect marks no key: %+v, %v", ins, err)
	}
	if st.BudgetCutsByRule["greedy-loops"] == 0 || st.BudgetCutsByRule["any-loop"] == 0 || st.BudgetCutRuns == 0 {
		t.Fatalf("no cuts counted: %+v", st)
	}
	t.Logf("cuts %v by rule %v, %d partial matches", st.BudgetCuts, st.BudgetCutsByRule, st.BudgetCutRuns)
	var normal []Record
	for _, r := range recs {
		if !strings.Contains(string(r.Value), `"card":"evil"`) {
			normal = append(normal, r)
		}
	}
	want, _, _ := run(t, rs, cfg, normal, 64)
	if others := withoutKey(got, "evil"); !slices.Equal(others, want) {
		t.Fatalf("other cards' alerts changed: %d, want %d", len(others), len(want))
	}
	if len(want) < 20 {
		t.Fatalf("only %d alerts for the other cards: the test data is too weak", len(want))
	}
}

func withoutKey(lines []string, key string) []string {
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, `"key":"`+key+`"`) {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// TestBudgetMemoryBounded: the accounted memory of the engine, sampled after every chunk,
// never exceeds the key budget times the rules (plus what the other cards hold), and the
// per-event time of the hostile card does not grow with its history: other keys on the
// shard do not wait for it.
func TestBudgetMemoryBounded(t *testing.T) {
	rs := explosiveRuleSet(t)
	recs := hostileStream(3000)
	eng, ctx, stop := startEngine(t, Config{Shards: 1, Budget: testBudget}, rs, &sinkCollector{}, &dlqCollector{})
	defer stop()
	limit := int64(len(rs.Rules)*testBudget.Bytes) + 1<<20
	var peak int64
	var chunkTimes []time.Duration
	for i := 0; i < len(recs); i += 100 {
		t0 := time.Now()
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+100, len(recs))]); err != nil {
			t.Fatal(err)
		}
		if err := eng.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		chunkTimes = append(chunkTimes, time.Since(t0))
		m := eng.Stats().Snapshot().MemoryBytes
		peak = max(peak, m)
		if m > limit {
			t.Fatalf("after %d events the key states hold %d accounted bytes, over %d", i+100, m, limit)
		}
	}
	// The last third of the chunks against the second third: bounded work per event.
	n := len(chunkTimes) / 3
	var mid, last time.Duration
	for i := 0; i < n; i++ {
		mid += chunkTimes[n+i]
		last += chunkTimes[2*n+i]
	}
	if last > 4*mid+200*time.Millisecond {
		t.Fatalf("the last %d chunks took %v, the middle ones %v: work per event grows with the hostile key's history", n, last, mid)
	}
	t.Logf("peak %d accounted bytes (limit %d); middle chunks %v, last chunks %v", peak, limit, mid, last)
}

// TestBudgetRestoreAtBudget: a checkpoint taken while the hostile card is at its budget
// restores in full (before the budget, such a key's blob was refused with "versions hold
// more Dewey digits than a blob of this size may", and the ingest log replayed the events
// that had made it: a crash loop), and the run across the restart gives the alerts and
// cuts of an uninterrupted one.
func TestBudgetRestoreAtBudget(t *testing.T) {
	rs := explosiveRuleSet(t)
	recs := hostileStream(1600)
	for i := range recs {
		recs[i].Offset = int64(i)
	}
	cfg := Config{Shards: 1, Budget: testBudget}
	want, _, wantSt := run(t, rs, cfg, recs, 100)
	for _, cut := range []int{400, 1000, 1500} {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		before := checkpointAt(t, ctx, dir, cfg, rs, recs, cut)
		cfg2 := cfg
		cfg2.Shards = 2
		after := resumeAfter(t, ctx, dir, cfg2, rs, recs)
		cancel()
		if cs := after.ckpt; cs.Corrupt > 0 || cs.Restored == 0 {
			t.Fatalf("cut %d: restore %+v: the key at its budget was refused", cut, cs)
		}
		got := alertLines(append(before.alerts, after.alerts...))
		if !slices.Equal(got, want) {
			t.Fatalf("cut %d: %d alerts across the restart, want %d", cut, len(got), len(want))
		}
		if n := before.stats.BudgetCutRuns + after.stats.BudgetCutRuns; n != wantSt.BudgetCutRuns {
			t.Fatalf("cut %d: %d partial matches cut across the restart, %d without", cut, n, wantSt.BudgetCutRuns)
		}
	}
}

// TestEngineMemoryBudget: with an engine budget far below what the hostile card reaches,
// the engine cuts (counted as "engine"), the accounted memory stays within the budget
// plus what one key may hold, and the small cards are not the ones cut.
func TestEngineMemoryBudget(t *testing.T) {
	rs := explosiveRuleSet(t)
	const budget = 256 << 10
	recs := hostileStream(1200)
	got, _, st := run(t, rs, Config{Shards: 1, Budget: testBudget, MemoryBudget: budget}, recs, 50)
	if st.BudgetCuts["engine"] == 0 {
		t.Fatalf("no engine cut: %+v", st.BudgetCuts)
	}
	if limit := int64(budget + len(rs.Rules)*testBudget.Bytes); st.MemoryBytes > limit {
		t.Fatalf("%d accounted bytes at the end, over the engine budget and one key's %d", st.MemoryBytes, limit)
	}
	want, _, _ := run(t, rs, Config{Shards: 1, Budget: testBudget}, recs, 50)
	if others, w := withoutKey(got, "evil"), withoutKey(want, "evil"); !slices.Equal(others, w) {
		t.Fatalf("the engine budget cut small cards: %d alerts, %d without it", len(others), len(w))
	}
}

// BenchmarkHostileKeyLatency: the other cards' alert latency (event in → alert out, p50
// and p99 from the engine's stats) on one shard, with and without a card held at the
// default budget by the explosive rules (three of every four events are its own).
// go test ./engine -run '^$' -bench HostileKeyLatency -benchtime 1x
func BenchmarkHostileKeyLatency(b *testing.B) {
	rs := explosiveRuleSet(b)
	all := hostileStream(8000)
	var normal []Record
	for _, r := range all {
		if !strings.Contains(string(r.Value), `"card":"evil"`) {
			normal = append(normal, r)
		}
	}
	for _, c := range []struct {
		name string
		recs []Record
	}{{"others_alone", normal}, {"with_hostile_card", all}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				eng, err := New(Config{Shards: 1}, rs, &sinkCollector{}, &dlqCollector{})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				eng.Start(ctx)
				for i := 0; i < len(c.recs); i += 8 { // small requests, one after another
					if _, err := eng.Ingest(ctx, 0, c.recs[i:min(i+8, len(c.recs))]); err != nil {
						b.Fatal(err)
					}
					if err := eng.Barrier(ctx); err != nil {
						b.Fatal(err)
					}
				}
				st := eng.Stats().Snapshot()
				eng.Close()
				b.ReportMetric(st.LatencyP50, "p50-µs")
				b.ReportMetric(st.LatencyP99, "p99-µs")
				b.ReportMetric(float64(st.BudgetCutRuns), "cut")
			}
		})
	}
}
