package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

// bigCooled alerts on every authorisation over 100 with a decision, its alerts of a key
// held back for a minute after one.
const bigCooled = `
id: big
cooldown: 1m
decision: {outcome: block, score: 50}
pattern:
  - name: a
    where: e.kind == 'auth' && e.amount > 100.0
`

// TestSubmitCollect: an ingest call that collects gets, per event, exactly the alerts
// that event completed: in order, re-matched, and held back by a cooldown (marked);
// alerts that time moving on fires (an absence) belong to no event, unless the event is
// among their matched events and their window had closed before it arrived.
func TestSubmitCollect(t *testing.T) {
	rs := testRulesOf(t, bigCooled, testRules[1]) // testRules[1]: auth-no-capture
	sink := &sinkCollector{}
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: 10 * time.Second}, rs, sink, &dlqCollector{})
	defer stop()
	submit := func(evs ...testEvent) ([]Outcome, [][]Completed) {
		t.Helper()
		return submitCollect(t, ctx, eng, evs...)
	}
	ids := func(cs []Completed) (s []string) {
		for _, c := range cs {
			s = append(s, completedTag(c))
		}
		return s
	}
	const t0 = 1_700_000_000_000
	out, comp := submit(
		testEvent{ID: "e1", Card: "c1", TS: t0, Kind: "auth", Amount: 150},
		testEvent{ID: "e2", Card: "c2", TS: t0 + 1000, Kind: "auth", Amount: 5},
		testEvent{ID: "e3", Card: "c1", TS: t0 + 2000, Kind: "auth", Amount: 200}, // within big's cooldown
	)
	if g := ids(comp[0]); len(g) != 1 || g[0] != "big" || comp[0][0].Decision == nil || comp[0][0].Decision.Score != 50 || out[0] != OutcomeMatched {
		t.Fatalf("e1: %v %v", g, out[0])
	}
	if len(comp[1]) != 0 {
		t.Fatalf("e2 completed %v", ids(comp[1]))
	}
	if g := ids(comp[2]); len(g) != 1 || g[0] != "big(cooldown)" {
		t.Fatalf("e3: %v", g)
	}
	// e4 moves c2's partition time past c1's auth-no-capture windows: those alerts fire
	// while e4 is handled, but e4 did not complete them
	out, comp = submit(testEvent{ID: "e4", Card: "c2", TS: t0 + 60_000, Kind: "login"})
	if len(comp[0]) != 0 || out[0] != OutcomeMatched {
		t.Fatalf("e4 completed %v", ids(comp[0]))
	}
	if n := len(sink.matching(func(a *alerts.Alert) bool { return a.RuleID == "auth-no-capture" })); n != 2 {
		t.Fatalf("%d absence alerts delivered, want 2 (the test cannot tell)", n)
	}
	// an older event of c3 within the out-of-orderness is re-matched and completes big
	submit(testEvent{ID: "e5", Card: "c3", TS: t0 + 58_000, Kind: "login"})
	out, comp = submit(testEvent{ID: "e6", Card: "c3", TS: t0 + 55_000, Kind: "auth", Amount: 900})
	if g := ids(comp[0]); out[0] != OutcomeRematched || len(g) != 1 || g[0] != "big" {
		t.Fatalf("e6: %v %v", g, out[0])
	}
	// c4's own event closes its absence window: the alert is not the event's
	submit(testEvent{ID: "e7", Card: "c4", TS: t0 + 61_000, Kind: "auth", Amount: 300})
	_, comp = submit(testEvent{ID: "e8", Card: "c4", TS: t0 + 95_000, Kind: "login"})
	if len(comp[0]) != 0 {
		t.Fatalf("e8 completed %v", ids(comp[0]))
	}
	c4s := sink.matching(func(a *alerts.Alert) bool { return a.RuleID == "auth-no-capture" && a.Key == "c4" })
	if len(c4s) == 0 {
		t.Fatal("c4's absence alert was not delivered (the test cannot tell)")
	}
	c4 := c4s[len(c4s)-1]
	if b, err := json.Marshal(c4); err != nil || len(b) == 0 {
		t.Fatal("alert does not marshal", err)
	}
	// c5's first event comes with its absence window already closed by the partition's
	// time (t0+85s: e8's less the out-of-orderness). Nothing but the event was needed, so
	// the absence alert that holds it is the event's, delivered while it is handled, after
	// the match the event completed
	out, comp = submit(testEvent{ID: "e9", Card: "c5", TS: t0 + 40_000, Kind: "auth", Amount: 300})
	if g := ids(comp[0]); out[0] != OutcomeMatched || len(g) != 2 || g[0] != "big" || g[1] != "auth-no-capture" {
		t.Fatalf("e9: %v %v", g, out[0])
	}
}
