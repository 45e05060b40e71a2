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
	fb := &fuzzBytes{b: data}
	pat := fuzzPattern(fb)
	pat.Release = patterns.Release(fb.n(2))
	timeouts := fb.n(2) == 0
	condBytes := &fuzzBytes{b: data, i: fb.i}
	prog, err := Compile(pat, guardedResolve(condBytes), Options{Timeouts: timeouts, MaxRuns: 8 + fb.n(40)})
	if err != nil {
		return
	}
	fb.i = condBytes.i
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
