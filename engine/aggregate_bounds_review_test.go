package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/rules"
)

// longWindowRule has an aggregate whose window outlasts the out-of-orderness, so that the
// event folded into a key's base is still in it: a re-match's roll-back then puts an
// aggregate back into the key's live state, whose bounds were kept (soon, late, ends)
// since a new state started.
const longWindowRule = `
id: long-window
aggregates:
  - {name: n, function: count, where: e.kind == 'auth', window: 20s}
pattern:
  - name: r
    where: e.kind == 'refund' && agg.n >= 3
`

// TestReviewVelocityBoundsAfterRollbackRestoresAggregates: an aggregate of the base (its
// event folded) is dropped by a timer while the key's journal logs it (its partition idle,
// following the engine watermark); a re-match rolls the log back, which puts it back into
// the live state with bounds known (a new state's) but not its own. The roll-back must make
// them unknown (keyVelocity.unbound in replayFeed): after the replay every copy of an end
// is its aggregate's EmptyAt, and the replay's timer time, past the aggregate's window,
// frees it again (with the stale bounds it stayed, and the key's timer never came).
func TestReviewVelocityBoundsAfterRollbackRestoresAggregates(t *testing.T) {
	rs := testRulesOf(t, longWindowRule)
	e, ctx, ingest := idleEngine(t, rs, 5*time.Second, 20*time.Millisecond, false, &sinkCollector{})
	ingest(1, 0, testEvent{ID: "a0", Card: "k", TS: t0 - 10_000, Kind: "auth", Amount: 10}) // folded into the base, in its window
	ingest(1, 1, testEvent{ID: "c1", Card: "k", TS: t0, Kind: "capture", Amount: 20},
		testEvent{ID: "c2", Card: "k", TS: t0 + 2000, Kind: "capture", Amount: 30})
	ingest(2, 0, testEvent{ID: "x1", Card: "x", TS: t0, Kind: "login"})
	time.Sleep(50 * time.Millisecond)
	e.MarkIdle(ctx)
	ingest(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 30_000, Kind: "login"}) // the engine watermark passes a0's window
	check := func(when string) (inBase, live int, timedTo int64) {
		t.Helper()
		if err := e.onShards(ctx, func(s *shard) {
			ks := s.keys["k"]
			if ks == nil || ks.vel == nil {
				t.Fatalf("%s: key k has no velocity state", when)
			}
			timedTo = ks.timedTo
			kv := ks.vel
			for _, a := range kv.aggs {
				if a != nil {
					live++
					if a.EmptyAt() <= timedTo {
						t.Errorf("%s: an aggregate empty at %d is kept past the key's timer time %d", when, a.EmptyAt(), timedTo)
					}
				}
			}
			inBase = len(keyAggregates(ks)) - live
			if kv.bounded() {
				if msg, _ := checkEnds(kv); msg != "" {
					t.Errorf("%s: %s (soon %d, late %d)", when, msg, kv.soon, kv.late)
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		return inBase, live, timedTo
	}
	if err := e.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if inBase, live, timedTo := check("idle"); inBase == 0 || live != 0 || timedTo < t0+10_000 {
		t.Fatalf("idle: %d aggregates in the base, %d live, timers at %d: the test does not test what it should", inBase, live, timedTo)
	}
	ingest(1, 3, testEvent{ID: "c3", Card: "k", TS: t0 + 1000, Kind: "capture", Amount: 40}) // re-matched: rolled back
	if err := e.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	check("re-matched")
	if st := e.Stats().Snapshot(); st.Rematched != 1 {
		t.Fatalf("%d re-matched, want 1", st.Rematched)
	}
}

// TestReviewAuxManyRules: aux answers from a bit set by rule (velPlan.withBits), one word
// per 64 rules: in a rule set of 130 rules, rule ri's conditions read rule ri's values
// exactly when it has aggregates, across the words' edges, and nil otherwise.
func TestReviewAuxManyRules(t *testing.T) {
	withAggs := map[int]bool{0: true, 1: true, 63: true, 64: true, 65: true, 127: true, 128: true, 129: true}
	var srcs []string
	for ri := range 130 {
		if withAggs[ri] {
			srcs = append(srcs, fmt.Sprintf(`
id: r%03d-agg
aggregates:
  - {name: n, function: count, where: e.kind == 'auth', window: %ds}
pattern:
  - name: r
    where: e.kind == 'refund' && agg.n >= 1.0
`, ri, ri+1))
			continue
		}
		srcs = append(srcs, fmt.Sprintf(`
id: r%03d-plain
pattern:
  - name: r
    where: e.kind == 'refund' && e.amount > %d.0
`, ri, ri))
	}
	rs := testRulesOf(t, srcs...)
	s := &shard{rules: rs, sc: &nfa.Scratch{}}
	p := s.velocity()
	if p == nil {
		t.Fatal("no velocity plan")
	}
	for ri, c := range rs.Rules {
		if want := fmt.Sprintf("r%03d-", ri); !strings.HasPrefix(c.Rule.ID, want) {
			t.Fatalf("rule %d is %s: the test does not test what it should", ri, c.Rule.ID)
		}
		got := p.aux(ri)
		if !withAggs[ri] {
			if got != nil {
				t.Errorf("rule %d has no aggregates: aux %v, want nil", ri, got)
			}
			continue
		}
		v, ok := got.(*rules.Aggregates)
		switch {
		case !ok || v != &p.vals[ri]:
			t.Errorf("rule %d: aux %v, want its own values %p", ri, got, &p.vals[ri])
		case len(v.Values) != 1 || &v.Values[0] != &p.flat[p.lay.off[ri]]:
			t.Errorf("rule %d: its values are not its place in flat", ri)
		}
	}
}
