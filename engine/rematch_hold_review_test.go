package engine

import (
	"testing"
	"time"
)

// TestRematchAdmitsAsLiveAfterTimersFreedHold: the key's timers, run ahead by the engine
// watermark while its partition is idle, free a rearm hold that has ended (expire); an
// event matched after them, older than the hold's end, is then admitted live. A re-match
// replays the journal as it was matched (storedFeed) to find what was delivered: it must
// free the hold where the timers did, or it misses the alert the live path delivered and
// the corrected order delivers it a second time.
func TestRematchAdmitsAsLiveAfterTimersFreedHold(t *testing.T) {
	rs := testRulesOf(t, `
id: auth-rearm
rearm: {after: 1s}
pattern:
  - name: a
    where: e.kind == 'auth'
`)
	sink := &sinkCollector{}
	e, ctx, in := idleEngine(t, rs, 5*time.Second, 20*time.Millisecond, false, sink)
	barrier := func() {
		t.Helper()
		if err := e.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
	}
	in(2, 0, testEvent{ID: "x1", Card: "x", TS: t0, Kind: "login"})
	in(1, 0, testEvent{ID: "a1", Card: "k", TS: t0, Kind: "auth"}) // an alert; a hold to t0+1s
	barrier()
	time.Sleep(50 * time.Millisecond)
	e.MarkIdle(ctx)
	// the engine watermark (t0+15s) runs k's timers past the hold's end: it is freed
	in(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 20_000, Kind: "login"})
	barrier()
	in(1, 1, testEvent{ID: "a2", Card: "k", TS: t0 + 500, Kind: "auth"}) // admitted live
	barrier()
	if got := len(ruleAlerts(sink, "auth-rearm", "")); got != 2 {
		t.Fatalf("%d alerts before the re-match, want a1's and a2's: the test does not test what it should", got)
	}
	in(1, 2, testEvent{ID: "a0", Card: "k", TS: t0 + 200, Kind: "auth"}) // re-matched; held by a1's hold
	barrier()
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.Stats().rematched.Load(); n != 1 {
		t.Fatalf("rematched %d, want 1: the test does not test what it should", n)
	}
	if got := ruleAlerts(sink, "auth-rearm", ""); len(got) != 2 {
		t.Fatalf("%d alerts, want a1's and a2's once each:\n%v", len(got), got)
	}
}
