package nfa

import (
	"testing"

	"github.com/cepd/cepd/patterns"
)

// guardedName is a condition true for events named n, with itself as its event-only
// guard: an event of another name rules out every state that consults only it.
type guardedName string

func (n guardedName) Eval(ctx *EvalContext) bool { return ctx.Event.Value(0).AsString() == string(n) }
func (n guardedName) Guard() Condition           { return n }

// TestRuledOutEnforcesBudget: Process's first shortcut (the guards rule out every state
// a run waits in, so the step returns before visiting a run) still ends with the budget's
// check when the matcher is over the budget it runs under, as the full step (the
// reference, NoGuards) does. A matcher is over its budget between calls when its
// scratch's budget was lowered, or when it was restored (Import) from a checkpoint taken
// under a larger budget; the reference cuts it at the next event whatever the event does.
// Both ways are run, each with an event no state takes ("x"), then the event that
// completes what the runs left ("b").
func TestRuledOutEnforcesBudget(t *testing.T) {
	resolve := func(s *patterns.Step, _ CondKind) (Condition, error) { return guardedName(s.Name), nil }
	shortcut := func(m *Matcher, sc *Scratch) {
		if skip := m.ruledOutStates(namedEvent(6, "x"), sc); skip == 0 || skip != m.waiting {
			t.Fatalf("the guards rule out %b of %b: the test does not reach the shortcut", skip, m.waiting)
		}
	}
	for _, restored := range []bool{false, true} {
		checkBudgetBetweenCalls(t, resolve, restored, shortcut)
	}
}

// checkBudgetBetweenCalls runs a two-step pattern whose conditions resolve gives, with
// guards and without (the reference), under no budget: six runs wait for a "b". It then
// lowers the budget (restored: through an Export and Import, as a restart would), feeds
// an event no state takes ("x") and the event that completes what the runs left ("b"),
// and fails unless both matchers hold the same runs, cut the same and match the same.
// before, if set, is called with the guarded matcher and its scratch before the lowering.
func checkBudgetBetweenCalls(t *testing.T, resolve Resolver, restored bool, before func(*Matcher, *Scratch)) {
	t.Helper()
	pat := &patterns.Pattern{Steps: []*patterns.Step{step("a", 0, nil), step("b", patterns.Relaxed, nil)}}
	for _, lower := range []Budget{{Runs: 2}, {VersionLen: 1}, {Bytes: 400}} {
		var progs [2]*Program
		var ms [2]*Matcher
		var scs [2]*Scratch
		for i, noGuards := range []bool{false, true} {
			prog, err := Compile(pat, resolve, Options{NoGuards: noGuards})
			if err != nil {
				t.Fatal(err)
			}
			progs[i] = prog
			ms[i], scs[i] = budgeted(prog, Budget{})
		}
		var res [2]Result
		feed := func(i int, name string) {
			for j := range ms {
				ms[j].Process(namedEvent(i, name), scs[j], &res[j])
			}
		}
		for i := range 6 { // six runs waiting for a "b"
			feed(i, "a")
		}
		if before != nil {
			before(ms[0], scs[0])
		}
		for j := range ms {
			if restored { // a restart under the lower budget
				ms[j] = roundTrip(t, progs[j], ms[j])
				scs[j] = NewScratch()
			}
			scs[j].Budget = lower // now over it
		}
		feed(6, "x") // no state takes it
		if a, b := dumpRuns(ms[0]), dumpRuns(ms[1]); a != b || res[0].Cut != res[1].Cut || ms[0].Usage() != ms[1].Usage() {
			t.Fatalf("restored %v, budget %+v: runs %s (cut %d, %+v), reference %s (cut %d, %+v)", restored, lower,
				a, res[0].Cut, ms[0].Usage(), b, res[1].Cut, ms[1].Usage())
		}
		if res[1].Cut == 0 {
			t.Fatalf("restored %v, budget %+v: the reference cut nothing: the test does not test", restored, lower)
		}
		feed(7, "b") // what the runs left complete
		if a, b := resultString(&res[0]), resultString(&res[1]); a != b {
			t.Fatalf("restored %v, budget %+v: matches %s, reference %s", restored, lower, a, b)
		}
	}
}
