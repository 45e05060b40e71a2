package engine

import "testing"

// TestFoldFreesBaseHoldsWhereTimersDid: k's timers, run ahead by the engine watermark
// while its partition is idle, free a1's ended rearm hold; a2, older than that hold's end
// but matched after the timers, is admitted live and holds the rule on. A fold of a1 and
// a2 advances the base to a2's timer time: unless it frees the hold there too, the base
// drops a2's match and keeps a1's shorter hold, and a restore from it admits a4, which
// the uninterrupted run drops.
func TestFoldFreesBaseHoldsWhereTimersDid(t *testing.T) {
	want := restoreAcrossIdle(t, `
id: auth-rearm
rearm: {after: 10s}
pattern:
  - name: a
    where: e.kind == 'auth'
`, func(in func(int, int64, ...testEvent)) {
		in(1, 0, testEvent{ID: "a1", Card: "k", TS: t0, Kind: "auth"})
		in(-1, 0)
		in(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 20_000, Kind: "login"})
		in(1, 1, testEvent{ID: "a2", Card: "k", TS: t0 + 500, Kind: "auth"},
			testEvent{ID: "k3", Card: "k", TS: t0 + 9000, Kind: "login"})
	}, func(in func(int, int64, ...testEvent)) {
		in(1, 3, testEvent{ID: "a4", Card: "k", TS: t0 + 10_200, Kind: "auth"},
			testEvent{ID: "z1", Card: "z", TS: t0 + 30_000, Kind: "login"})
	})
	if len(want) != 2 {
		t.Fatalf("uninterrupted: %v, want a1's and a2's alerts: the test does not test what it should", want)
	}
}
