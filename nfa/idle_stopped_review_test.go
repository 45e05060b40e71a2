package nfa

import (
	"math"
	"reflect"
	"testing"

	"github.com/cepd/cepd/event"
)

// TestIdleStoppedStartReview: Idle promises that the matcher "can be discarded and later
// recreated without changing any result", and the engine relies on it (it drops an idle
// matcher after a step or a timer: shard.settle, advanceOne, replays). A matcher whose
// start run is gone (a run from the start state reached the stop state: 19b4778) and
// that holds one other run has len(partial) == 1: Idle says true, the engine drops the
// live run, and the next event makes a fresh matcher with a start run the matcher no
// longer had. Run random patterns and streams both ways (uninterrupted, and with an
// idle matcher replaced by a fresh one when the next event comes, as the engine does):
// the matches and timeouts must be the same.
func TestIdleStoppedStartReview(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 600
	}
	idleStopped, differ := 0, 0
	var first string
	randomInputs(16, n, func(data []byte) {
		fb, pat, prog, ok := expiresProgram(data)
		if !ok {
			return
		}
		evs := fuzzStream(fb, 60)
		saw := false
		want := runDropIdle(prog, evs, false, nil)
		got := runDropIdle(prog, evs, true, func(m *Matcher) {
			if len(m.partial) == 1 && !hasStartRun(m) {
				saw = true // (one run, not the start run: what Idle took for idle)
				if m.Idle() || m.Expires(m.Deadline()-1) {
					t.Fatalf("a matcher whose one run is not the start run is idle (Idle %v)", m.Idle())
				}
			}
		})
		if saw {
			idleStopped++
		}
		if !reflect.DeepEqual(got, want) {
			differ++
			if first == "" {
				first = pat.String()
				t.Logf("pattern %s\n uninterrupted %q\n idle dropped  %q", pat, want, got)
			}
		}
	})
	t.Logf("%d streams with a matcher of one run and no start run; %d differ", idleStopped, differ)
	if idleStopped == 0 {
		t.Fatal("no matcher lost its start run with one run left: the check is vacuous")
	}
	if differ > 0 {
		t.Fatalf("dropping an Idle matcher changed the results in %d streams of %d (first: %s)", differ, n, first)
	}
}

// runDropIdle runs evs through prog's matcher, advancing to each event's time first;
// with drop, a matcher that is Idle after a step is discarded and a fresh one made for
// the next event (as the engine does). after sees the matcher after each step.
func runDropIdle(prog *Program, evs []*event.Event, drop bool, after func(m *Matcher)) []string {
	var m *Matcher
	sc := NewScratch()
	var res Result
	var out []string
	collect := func() { out = appendResults(out, &res) }
	step := func() {
		if after != nil {
			after(m)
		}
		if drop && m.Idle() {
			m = nil
		}
	}
	for _, ev := range evs {
		if m != nil {
			m.Advance(ev.Time, sc, &res)
			collect()
			step()
		}
		if m == nil {
			m = prog.NewMatcher()
		}
		m.Process(ev, sc, &res)
		collect()
		step()
	}
	if m != nil {
		m.Advance(math.MaxInt64, sc, &res)
		collect()
	}
	return out
}
