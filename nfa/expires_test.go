package nfa

import (
	"math"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// checkExpires runs a random pattern (both emission orders, timeouts on or off) over a
// random stream and, before every event and at the end, asks Matcher.Expires at several
// times t: it must say true exactly when Advance(t) of a clone leaves it idle and reports
// nothing (the slow, obviously correct path the engine's timers skip).
func checkExpires(t *testing.T, data []byte, yes *int) {
	fb, pat, prog, ok := expiresProgram(data)
	if !ok {
		return
	}
	m, sc := prog.NewMatcher(), NewScratch()
	var res Result
	ts := int64(0)
	check := func(when string) {
		d := m.Deadline()
		for _, at := range []int64{ts, d - 1, d, d + 1, d + 3, d + 7, d + 20, math.MaxInt64} {
			if at < 0 {
				continue
			}
			c, csc := m.Clone(), NewScratch()
			var r Result
			c.Advance(at, csc, &r)
			want := c.Idle() && len(r.Matches) == 0 && len(r.Timeouts) == 0 && r.Dropped == 0 && r.Cut == 0
			m.Recount() // the clone took over the shared entries' counts
			got := m.Expires(at)
			if got {
				*yes++
			}
			if got != want && (got || len(m.held()) == 0) { // held matches: Expires may say false
				t.Fatalf("%s, t=%d (deadline %d): Expires %v, Advance of a clone leaves it idle with nothing to report: %v\nruns %s\nresult %s\npattern %s\n%s",
					when, at, d, got, want, dumpRuns(m), resultString(&r), pat, prog)
			}
		}
	}
	for i := 0; i < 60; i++ {
		ts += int64(fb.n(4))
		check("before event " + string(rune('0'+i%10)))
		name := string(rune('a' + fb.n(6)))
		ev := (&event.Event{Seq: uint64(i + 1), Time: ts, Schema: benchSchema}).
			SetValues([]event.Value{event.String(name), event.String("k"), event.Int(ts)})
		m.Advance(ts, sc, &res)
		m.Process(ev, sc, &res)
		res.Reset()
	}
	ts += int64(fb.n(30))
	check("at the end")
}

// expiresProgram compiles a random pattern from data (either emission order, timeouts on
// or off) for the Expires checks; ok is false when it does not compile. fb reads on.
func expiresProgram(data []byte) (fb *fuzzBytes, pat *patterns.Pattern, prog *Program, ok bool) {
	fb = &fuzzBytes{b: data}
	pat = fuzzPattern(fb)
	pat.Release = patterns.Release(fb.n(2))
	timeouts := fb.n(2) == 0
	condBytes := &fuzzBytes{b: data, i: fb.i}
	prog, err := Compile(pat, guardedResolve(condBytes), Options{Timeouts: timeouts, MaxRuns: 8 + fb.n(40)})
	if err != nil {
		return nil, nil, nil, false
	}
	fb.i = condBytes.i
	return fb, pat, prog, true
}

// TestExpiresMatchesAdvance runs checkExpires over many random inputs.
func TestExpiresMatchesAdvance(t *testing.T) {
	n, yes := 1500, 0
	if testing.Short() {
		n = 400
	}
	randomInputs(14, n, func(data []byte) { checkExpires(t, data, &yes) })
	if yes < n/10 {
		t.Fatalf("Expires said true %d times in %d streams: the check is vacuous", yes, n)
	}
}

// hasStartRun reports whether m holds its start run (it has none once a run from the
// start state reached the stop state).
func hasStartRun(m *Matcher) bool {
	for i := range m.partial {
		if m.partial[i].st.typ == stStart {
			return true
		}
	}
	return false
}

// checkExpiryCache runs a random pattern (both emission orders, timeouts on or off,
// sometimes under a small budget that cuts runs, sometimes advanced between events)
// over a random stream and, after every step, holds Expires' answer from the matcher's
// header (m.expiry, set by computeDeadline) to the walk of its runs (expiresWalk) at
// times at and after the deadline; a clone and a checkpoint's round trip must have the
// matcher's. It counts the answers each kind of expiry gave.
func checkExpiryCache(t *testing.T, data []byte, seen *[3]int) {
	fb, pat, prog, ok := expiresProgram(data)
	if !ok {
		return
	}
	budget, advance := fb.n(3) == 0, fb.n(2) == 0
	m, sc := prog.NewMatcher(), NewScratch()
	if budget {
		sc.Budget = Budget{Runs: 2 + fb.n(8), Nodes: 4 + fb.n(20), Digits: 20 + 10*fb.n(10)}
	}
	var res Result
	ts := int64(0)
	check := func(when string) {
		d := m.Deadline()
		if d == math.MaxInt64 {
			return
		}
		seen[m.expiry]++
		for _, at := range []int64{d, d + 1, d + 3, d + 7, d + 20, d + 1000, math.MaxInt64} {
			if got, want := m.Expires(at), m.expiresWalk(at); got != want {
				t.Fatalf("%s, t=%d (deadline %d): Expires %v from expiry %d, the walk of the runs %v\nruns %s\npattern %s\n%s",
					when, at, d, got, m.expiry, want, dumpRuns(m), pat, prog)
			}
		}
	}
	for i := 0; i < 60; i++ {
		ts += int64(fb.n(4))
		if advance {
			m.Advance(ts, sc, &res)
			check("after advance " + string(rune('0'+i%10)))
		}
		name := string(rune('a' + fb.n(6)))
		ev := (&event.Event{Seq: uint64(i + 1), Time: ts, Schema: benchSchema}).
			SetValues([]event.Value{event.String(name), event.String("k"), event.Int(ts)})
		m.Process(ev, sc, &res)
		check("after event " + string(rune('0'+i%10)))
		if i%13 == 12 && m.Live() > 0 { // a checkpoint's round trip
			snap, list := exportList(m)
			r, err := prog.Import(snap, list)
			if err != nil {
				t.Fatal(err)
			}
			if r.expiry != m.expiry || r.Deadline() != m.Deadline() {
				t.Fatalf("restored: expiry %d and deadline %d, the matcher's %d and %d", r.expiry, r.Deadline(), m.expiry, m.Deadline())
			}
		}
		if i%17 == 16 {
			c := m.Clone()
			m.Recount()
			if c.expiry != m.expiry || c.Deadline() != m.Deadline() {
				t.Fatalf("a clone's expiry %d and deadline %d, the matcher's %d and %d", c.expiry, c.Deadline(), m.expiry, m.Deadline())
			}
		}
		res.Reset()
	}
}

// TestExpiresCachedMatchesWalk runs checkExpiryCache over many random inputs; each kind
// of cached answer (walk, all expire, never) must be seen, or the check is vacuous.
func TestExpiresCachedMatchesWalk(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 500
	}
	var seen [3]int
	randomInputs(15, n, func(data []byte) { checkExpiryCache(t, data, &seen) })
	t.Logf("expiry kinds seen (walk, all, never): %v", seen)
	for k, c := range seen {
		if c < n/20 {
			t.Fatalf("expiry %d seen %d times in %d streams: the check is vacuous (%v)", k, c, n, seen)
		}
	}
}
