package engine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/nfa"
)

// TestScanNotesPeaksPerMeasure: a key's scan notes in the shard's peaks each measure's
// largest over the key's live matchers (as noting every matcher did), with sparse slots
// and with dense ones (more than maxSparse rules: the slots' array has nil entries).
// Every key with a live matcher is scanned again from zero peaks and the peaks are
// checked against the measures' maxima; keys whose maxima are not all one matcher's
// must occur, or a scan that notes one matcher's whole Usage would pass.
func TestScanNotesPeaksPerMeasure(t *testing.T) {
	evs := records(genEvents(4141, 30, 3000))
	for _, c := range []struct {
		name string
		rs   *RuleSet
	}{
		{"sparse", testRulesOf(t, append(slices.Clone(testRules), shortWindowRules...)...)},
		{"dense", testRulesOf(t, wideRules(17, testRules...)...)},
	} {
		eng, ctx, stop := startEngine(t, Config{Shards: 1}, c.rs, &sinkCollector{}, &dlqCollector{})
		keys, mixed := 0, 0
		var fail string // set on the shard's goroutine, reported on the test's
		for i := 0; i < len(evs); i += 300 {
			if _, err := eng.Ingest(ctx, 0, evs[i:min(i+300, len(evs))]); err != nil {
				t.Fatal(err)
			}
			if err := eng.onShards(ctx, func(s *shard) {
				if s.dense() != (c.name == "dense") {
					fail = fmt.Sprintf("%s: the rule set's slots are not %s", c.name, c.name)
					return
				}
				pk := &s.e.stats.shard[s.id].peak
				for k, ks := range s.keys {
					var want nfa.Usage
					var ms []nfa.Usage
					for _, m := range ks.m.all() {
						u := m.Usage()
						ms = append(ms, u)
						want = nfa.Usage{Runs: max(want.Runs, u.Runs), Nodes: max(want.Nodes, u.Nodes), Digits: max(want.Digits, u.Digits), Bytes: max(want.Bytes, u.Bytes)}
					}
					if len(ms) == 0 {
						continue
					}
					keys++
					if !slices.ContainsFunc(ms, func(u nfa.Usage) bool {
						return u.Runs == want.Runs && u.Nodes == want.Nodes && u.Digits == want.Digits && u.Bytes == want.Bytes
					}) {
						mixed++
					}
					pk.runs.Store(0)
					pk.nodes.Store(0)
					pk.digits.Store(0)
					pk.bytes.Store(0)
					s.scan(ks)
					got := nfa.Usage{Runs: int(pk.runs.Load()), Nodes: int(pk.nodes.Load()), Digits: int(pk.digits.Load()), Bytes: int(pk.bytes.Load())}
					if got != want {
						fail = fmt.Sprintf("%s: key %s: scan noted peaks %+v, the matchers' largest are %+v (matchers %+v)", c.name, k, got, want, ms)
						return
					}
					sum := 0
					for _, u := range ms {
						sum += u.Bytes
					}
					if ks.mbytes != sum {
						fail = fmt.Sprintf("%s: key %s: scan accounted %d bytes, the matchers hold %d", c.name, k, ks.mbytes, sum)
						return
					}
				}
			}); err != nil {
				t.Fatal(err)
			}
			if fail != "" {
				stop()
				t.Fatal(fail)
			}
		}
		stop()
		if keys < 100 || mixed == 0 {
			t.Fatalf("%s: %d keys scanned, %d whose largest measures are not one matcher's: weak test", c.name, keys, mixed)
		}
	}
}

// dense reports whether the shard's rule set keeps dense matcher slots.
func (s *shard) dense() bool { return len(s.rules.Rules) > maxSparse }

// TestTimerShortcutUnderBudget: the timers' shortcut against advancing every matcher
// (shard.slowTimers) where the stale reference counts it leaves behind could matter: a
// per-key-and-rule budget tight enough to cut (its accounts read the counts), journals
// folded by their bound (foldOldest: the base processes nodes it shares with the live
// matchers) and re-matches (replays clone the base) of events arriving out of order,
// one shard; and an engine budget small enough to cut keys (shard.account reads what
// the timers leave in keyState.mbytes). The alerts, the counters (cuts by limit and rule, re-matches, peaks, the
// accounted memory) and every key's state must be the same.
func TestTimerShortcutUnderBudget(t *testing.T) {
	rs := testRulesOf(t, append(slices.Clone(testRules), shortWindowRules...)...)
	recs := records(arriveWithin(genEvents(1414, 25, 6000), rand.New(rand.NewPCG(0, 41)), 3*time.Second))
	for _, c := range []struct {
		b      nfa.Budget
		engine int64 // Config.MemoryBudget
	}{{nfa.Budget{Nodes: 3}, 0}, {nfa.Budget{Runs: 2}, 0}, {nfa.Budget{Bytes: 700}, 0}, {nfa.Budget{}, 30000}} {
		b := c.b
		cfg := Config{Shards: 1, OutOfOrderness: 3 * time.Second, MaxJournal: 3, Budget: b, MemoryBudget: c.engine, Late: LateProcess}
		run := func(slow bool) (out []string, expired int64, sn Snapshot) {
			sink := &sinkCollector{}
			eng, ctx, stop := startEngine(t, cfg, rs, sink, &dlqCollector{})
			defer stop()
			if err := eng.onShards(ctx, func(s *shard) { s.slowTimers = slow }); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(recs); i += 250 {
				if _, err := eng.Ingest(ctx, 0, recs[i:min(i+250, len(recs))]); err != nil {
					t.Fatal(err)
				}
				var fail string
				if err := eng.onShards(ctx, func(s *shard) { fail = exactAccounts(s) }); err != nil {
					t.Fatal(err)
				}
				if fail != "" {
					t.Fatalf("budget %+v, engine budget %d, slow timers %v, after %d events: %s", b, c.engine, slow, i+250, fail)
				}
			}
			if err := eng.onShards(ctx, func(s *shard) {
				expired += s.timers.expired
				var keys []string
				for k, ks := range s.keys {
					line := fmt.Sprintf("key %s: timer %d, bytes %d, journal %d", k, ks.timerAt, ks.mbytes, len(ks.pending()))
					for ri, m := range ks.m.all() {
						line += fmt.Sprintf("; %d %+v %d %v", ri, m.Usage(), m.Deadline(), m.WasCut())
					}
					keys = append(keys, line)
				}
				slices.Sort(keys)
				out = append(out, keys...)
			}); err != nil {
				t.Fatal(err)
			}
			sn = eng.Stats().Snapshot()
			sink.mu.Lock()
			defer sink.mu.Unlock()
			for _, a := range sink.all {
				j, _ := json.Marshal(a)
				out = append(out, string(j))
			}
			st := sn
			st.LatencyP50, st.LatencyP99, st.LatencyP999, st.LatencyN, st.LatencySum = 0, 0, 0, 0, 0
			st.QueueP50, st.QueueP99, st.QueueP999, st.QueueN, st.QueueSum = 0, 0, 0, 0, 0
			for i := range st.BudgetRecent {
				st.BudgetRecent[i].At = time.Time{}
			}
			j, _ := json.Marshal(st)
			return append(out, string(j)), expired, sn
		}
		want, _, sn := run(true)
		got, expired, _ := run(false)
		name := fmt.Sprintf("budget %+v, engine budget %d", b, c.engine)
		if expired < int64(len(recs))/20 || sn.BudgetCutRuns < 50 || sn.Rematched < 100 || c.engine > 0 && sn.BudgetCuts["engine"] < 20 {
			t.Fatalf("%s: %d matchers dropped by the shortcut, %d partial matches cut, %d events re-matched: weak test", name, expired, sn.BudgetCutRuns, sn.Rematched)
		}
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("%s: line %d of %d (reference %d):\n%s\nreference:\n%s", name, i, len(got), len(want), at(got, i), at(want, i))
		}
	}
}

// exactAccounts checks that the memory account of every live and journal base matcher
// of the shard's keys is the one a recount of its runs gives (Clone recounts), which
// holds when every matcher recounted before processing nodes another matcher's steps
// (or a dropped matcher's missing ones) left counted for that other matcher; it
// describes the first that is not (""). It leaves the live matchers' counts their own.
func exactAccounts(s *shard) string {
	var fail string
	check := func(k, what string, ri int, m *nfa.Matcher) {
		if got, want := m.Usage(), m.Clone().Usage(); fail == "" && got != want {
			fail = fmt.Sprintf("key %s, %s matcher of rule %d: account %+v, its runs hold %+v", k, what, ri, got, want)
		}
	}
	for k, ks := range s.keys {
		if ks.base != nil {
			for ri, m := range denseAll(ks.base.ms) {
				check(k, "base", ri, m)
			}
		}
		for ri, m := range ks.m.all() {
			check(k, "live", ri, m)
		}
		recount(ks.m.all())
	}
	return fail
}
