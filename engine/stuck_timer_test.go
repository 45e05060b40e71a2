package engine

import (
	"math"
	"testing"
	"time"
)

// TestStuckTimerDoesNotLoop: a key whose deadline stays due after its timer fired (here a
// velocity state's bound made stale by hand: soon past its aggregate's end, so expire
// frees nothing while deadline still answers the end) must not fire again and again
// (reschedule fired at once, which rescheduled, without end: a stack overflow, as the
// review found by leaving a restore's unbound out). The engine logs it, keeps no timer for
// the key, and goes on: another key's alert still comes out.
func TestStuckTimerDoesNotLoop(t *testing.T) {
	rs := testRulesOf(t, longWindowRule)
	sink := &sinkCollector{}
	e, ctx, ingest := idleEngine(t, rs, 0, time.Hour, false, sink)
	ingest(1, 0, testEvent{ID: "a0", Card: "k", TS: t0, Kind: "auth", Amount: 10})
	if err := e.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	var stale bool
	if err := e.onShards(ctx, func(s *shard) {
		if ks := s.keys["k"]; ks != nil && ks.vel != nil && ks.vel.bounded() {
			ks.vel.soon, stale = math.MaxInt64, true
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !stale {
		t.Fatal("key k has no velocity state with known bounds: the test does not test what it should")
	}
	for i := range 3 { // time passes the aggregate's window: k's timer fires
		ingest(1, int64(1+i), testEvent{ID: "x" + string(rune('0'+i)), Card: "x", TS: t0 + 60_000 + int64(i)*1000, Kind: "auth", Amount: 1})
	}
	ingest(1, 4, testEvent{ID: "x3", Card: "x", TS: t0 + 64_000, Kind: "auth", Amount: 1},
		testEvent{ID: "x4", Card: "x", TS: t0 + 64_500, Kind: "auth", Amount: 1},
		testEvent{ID: "r1", Card: "x", TS: t0 + 65_000, Kind: "refund", Amount: 5})
	if err := e.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ruleAlerts(sink, "long-window", "match"); len(got) != 1 {
		t.Fatalf("%d alerts of another key after the stuck timer, want 1", len(got))
	}
	var stuck bool
	if err := e.onShards(ctx, func(s *shard) { stuck = s.warnedStuck }); err != nil {
		t.Fatal(err)
	}
	if !stuck {
		t.Fatal("the stuck timer was not noticed: the test does not test what it should")
	}
}
