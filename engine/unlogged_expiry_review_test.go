package engine

import (
	"fmt"
	"slices"
	"testing"
)

// TestUnloggedStateExpiredAheadOfJournal: a key whose journal starts without velocity
// state (velJournal.none) takes c1 unlogged; its partition goes idle and another moves
// the engine watermark past c1's window, so the key's timer expires the unlogged state
// (keyVelocity.expire: with no log it frees the aggregate and drops the state, which a
// logged state keeps, emptied, till its journal ends). Then a1 (in order: caps 0, the
// timer freed c1) and a0 (out of order: a re-match) come. The re-match starts from none
// (the base had no state) and recomputes c1, so a0 sees it, as at b55f6d2, where the
// first event's state was logged and kept. (With MaxJournal 1, a1 folds c1 into the base
// with the expiry, and a0 sees caps 0 here and at b55f6d2 alike.)
func TestUnloggedStateExpiredAheadOfJournal(t *testing.T) {
	rs := testRulesOf(t, `
id: caps-auth
aggregates:
  - {name: caps, function: count, where: e.kind == 'capture', window: 1m}
pattern:
  - name: a
    where: e.kind == 'auth'
emit:
  caps: agg.caps
`)
	e, sink := runIdleSteps(t, rs, 0, []idleStep{
		{1, testEvent{ID: "c1", Card: "k", TS: t0, Kind: "capture", Amount: 1}},
		{2, testEvent{ID: "x1", Card: "x", TS: t0, Kind: "login"}},
		{0, testEvent{}}, // partition 1 goes idle
		{2, testEvent{ID: "x2", Card: "x", TS: t0 + 80_000, Kind: "login"}},
		{1, testEvent{ID: "a1", Card: "k", TS: t0 + 500, Kind: "auth", Amount: 1}},
		{1, testEvent{ID: "a0", Card: "k", TS: t0 + 100, Kind: "auth", Amount: 1}},
	})
	if st := e.Stats().Snapshot(); st.Rematched != 1 || st.Late != 0 {
		t.Fatalf("%d re-matched, %d late, want 1 and 0: the test does not test what it should", st.Rematched, st.Late)
	}
	var got []string
	for _, a := range sink.all {
		got = append(got, fmt.Sprintf("%s:%v", a.Steps[0].Events[0].ID, a.Emit))
	}
	if want := []string{"a1:[{caps 0 }]", "a0:[{caps 1 }]"}; !slices.Equal(got, want) {
		t.Fatalf("alerts %v, want %v (b55f6d2's)", got, want)
	}
}
