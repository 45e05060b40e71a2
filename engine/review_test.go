package engine

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/nfa"
)

// TestBudgetSameCutsWithOutOfOrderness: in-order input gives the same alerts with and
// without out-of-orderness, also when the memory budget cuts. The journal's base shares
// shared-buffer nodes with the live matchers, and the budget's reference counts live in
// those nodes; a base processing its trimmed events must not corrupt the live account.
func TestBudgetSameCutsWithOutOfOrderness(t *testing.T) {
	schema := explosiveRuleSet(t).Schema
	rs := compileRules(t, schema, []string{`
id: relaxed
within: 20s
pattern:
  - name: a
    where: e.kind == 'auth'
  - name: b
    where: e.kind == 'auth'
    times: 1+
  - name: c
    where: e.kind == 'capture'
`})
	var evs []testEvent
	ts := int64(1_700_000_000_000)
	for i := 0; i < 4000; i++ {
		ts += 300
		if i%40 < 18 && i%3 == 0 { // bursts for card k, then a gap longer than the bound
			kind := "auth"
			if i%17 == 0 {
				kind = "capture"
			}
			evs = append(evs, testEvent{ID: fmt.Sprintf("k%d", i), Card: "k", TS: ts, Kind: kind, Amount: 3})
		} else {
			evs = append(evs, testEvent{ID: fmt.Sprintf("o%d", i), Card: fmt.Sprintf("o%d", i), TS: ts, Kind: "login", Amount: 1})
		}
	}
	recs := records(evs)
	for _, d := range []int{200, 800, 1 << 20} {
		b := nfa.Budget{Runs: 1 << 20, Nodes: 1 << 20, Digits: d, Bytes: 1 << 30, VersionLen: 4096}
		a, _, _ := run(t, rs, Config{Shards: 1, Budget: b}, recs, 64)
		o, _, _ := run(t, rs, Config{Shards: 1, Budget: b, OutOfOrderness: 2 * time.Second}, recs, 64)
		if !slices.Equal(a, o) {
			t.Errorf("digits budget %d: %d alerts without out-of-orderness, %d with", d, len(a), len(o))
		}
	}
}

// TestLateProcessedSurvivesRematch: an event matched late (LateProcess) stays matched
// when a later out-of-order event re-matches its key.
func TestLateProcessedSurvivesRematch(t *testing.T) {
	rs := testRuleSet(t)
	const s = int64(1_700_000_000_000)
	mk := func(withRematch bool) []testEvent {
		evs := []testEvent{
			{ID: "A", Card: "k", TS: s + 100_000, Kind: "auth", Amount: 1},
			{ID: "o1", Card: "o", TS: s + 101_000, Kind: "login", Amount: 1},
			{ID: "B", Card: "k", TS: s + 105_000, Kind: "login", Amount: 1},
			{ID: "o2", Card: "o", TS: s + 106_000, Kind: "login", Amount: 1},
			{ID: "L", Card: "k", TS: s + 95_000, Kind: "auth", Amount: 2}, // late (behind the watermark), processed
		}
		if withRematch {
			evs = append(evs, testEvent{ID: "R", Card: "k", TS: s + 103_000, Kind: "login", Amount: 1})
		}
		return append(evs, testEvent{ID: "X", Card: "k", TS: s + 107_000, Kind: "auth", Amount: 900})
	}
	count := func(lines []string) int {
		n := 0
		for _, l := range lines {
			if strings.Contains(l, `"rule_id":"small-then-large"`) {
				n++
			}
		}
		return n
	}
	cfg := Config{Shards: 1, OutOfOrderness: 5 * time.Second, Late: LateProcess}
	without, _, _ := run(t, rs, cfg, records(mk(false)), 1)
	with, _, _ := run(t, rs, cfg, records(mk(true)), 1)
	if count(without) != 1 || count(with) != 1 {
		t.Fatalf("small-then-large alerts: %d without the out-of-order event, %d with it; want 1 and 1", count(without), count(with))
	}
}

// TestFailedIngestLeavesNoBatches: an ingest call whose context ends while it sends
// leaves no batch behind for the next call, whose outcomes then all arrive.
func TestFailedIngestLeavesNoBatches(t *testing.T) {
	rs := testRuleSet(t)
	eng, err := New(Config{Shards: 2, QueueSize: 1}, rs, &sinkCollector{}, &dlqCollector{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keys := [2]string{}
	for i := 0; keys[0] == "" || keys[1] == ""; i++ {
		k := fmt.Sprintf("k%d", i)
		if s := eng.shardOf(k); keys[s] == "" {
			keys[s] = k
		}
	}
	evs := func(prefix string, n int) []Record {
		var out []testEvent
		for i := range n {
			out = append(out, testEvent{ID: fmt.Sprintf("%s%d", prefix, i), Card: keys[i%2], TS: 1_700_000_000_000 + int64(i), Kind: "login", Amount: 1})
		}
		return records(out)
	}
	if _, err := eng.Ingest(ctx, 0, evs("a", 1)); err != nil { // a batch and a watermark fill both queues (not started)
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, _, err := eng.Submit(short, 0, evs("b", 2)); err == nil {
		t.Fatal("Submit into full queues of a stopped engine succeeded")
	}
	stop()
	eng.Start(ctx)
	defer eng.Close()
	// shard 1 is slow to get to the next call's events
	if err := eng.shards[1].send(ctx, msg{kind: msgInspect, fn: func(*shard) { time.Sleep(300 * time.Millisecond) }, done: make(chan struct{})}); err != nil {
		t.Fatal(err)
	}
	out, _, err := eng.IngestWait(ctx, 0, evs("c", 200))
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o != OutcomeMatched {
			t.Fatalf("event %d: outcome %v, want matched (a batch of the failed call was reused)", i, o)
		}
	}
}

// TestReloadFoldsJournal: events matched before a reload stay matched by the rules of
// their time; an out-of-order event after the reload does not replay them into a rule
// the reload added.
func TestReloadFoldsJournal(t *testing.T) {
	rs := testRuleSet(t)
	sink := &sinkCollector{}
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: 5 * time.Second, Late: LateProcess}, rs, sink, &dlqCollector{})
	defer stop()
	const s = int64(1_700_000_000_000)
	if _, err := eng.Ingest(ctx, 0, records([]testEvent{
		{ID: "a1", Card: "k", TS: s + 1000, Kind: "auth", Amount: 1},
		{ID: "a2", Card: "k", TS: s + 2000, Kind: "login", Amount: 1},
		{ID: "a3", Card: "k", TS: s + 4000, Kind: "refund", Amount: 1},
	})); err != nil {
		t.Fatal(err)
	}
	next := compileRules(t, rs.Schema, append(slices.Clone(testRules), authRefundRule))
	if _, err := eng.SwapRules(ctx, next); err != nil {
		t.Fatal(err)
	}
	ingestFlush(t, ctx, eng, records([]testEvent{{ID: "x", Card: "k", TS: s + 3000, Kind: "auth", Amount: 1}}))
	for _, a := range sink.matching(func(a *alerts.Alert) bool { return a.RuleID == "auth-refund" }) {
		t.Errorf("auth-refund alert on %v: events from before the reload were replayed into the new rule", a.Steps)
	}
}

// TestRestoreKeepsKeyOrder: a restart does not change which events of a key are late:
// the key's newest matched time is checkpointed with its state.
func TestRestoreKeepsKeyOrder(t *testing.T) {
	rs := testRuleSet(t)
	const s = int64(1_700_000_000_000)
	first := records([]testEvent{{ID: "big", Card: "k", TS: s + 100_000, Kind: "auth", Amount: 200}}) // auth-no-capture keeps k live
	older := records([]testEvent{{ID: "old", Card: "k", TS: s + 99_000, Kind: "login", Amount: 1}})
	for _, ooo := range []time.Duration{0, 500 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		dir := t.TempDir()
		cfg := Config{Shards: 1, OutOfOrderness: ooo, Late: LateDrop}
		checkpointAt(t, ctx, dir, cfg, rs, first, len(first))

		store := openStore(t, dir)
		e2 := startCheckpointed(t, ctx, store, cfg, rs, &sinkCollector{}, &dlqCollector{})
		if _, err := e2.Restore(ctx, 0, slog.Default()); err != nil {
			t.Fatal(err)
		}
		out, _, err := e2.IngestWait(ctx, 0, older)
		if err != nil {
			t.Fatal(err)
		}
		if out[0] != OutcomeLateDropped {
			t.Errorf("out-of-orderness %v: an event older than the key's newest after a restore: %v, want late_dropped", ooo, out[0])
		}
		e2.Close()
		store.Close()
		cancel()
	}
}

// TestJournalBounded: a key that sends more events within the out-of-orderness than
// MaxJournal keeps only the newest re-matchable; older out-of-order events are late.
func TestJournalBounded(t *testing.T) {
	rs := testRuleSet(t)
	const s = int64(1_700_000_000_000)
	var evs []testEvent
	for i := range 300 {
		evs = append(evs, testEvent{ID: fmt.Sprintf("e%d", i), Card: "k", TS: s + int64(i)*10, Kind: "login", Amount: 1})
	}
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: time.Minute, MaxJournal: 100, Late: LateDrop}, rs, &sinkCollector{}, &dlqCollector{})
	defer stop()
	if _, _, err := eng.IngestWait(ctx, 0, records(evs)); err != nil {
		t.Fatal(err)
	}
	out, _, err := eng.IngestWait(ctx, 0, records([]testEvent{
		{ID: "old", Card: "k", TS: s + 150*10 + 5, Kind: "login", Amount: 1},    // behind the newest 100
		{ID: "recent", Card: "k", TS: s + 250*10 + 5, Kind: "login", Amount: 1}, // among them
	}))
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != OutcomeLateDropped || out[1] != OutcomeRematched {
		t.Errorf("outcomes %v %v, want late_dropped and rematched", out[0], out[1])
	}

}
