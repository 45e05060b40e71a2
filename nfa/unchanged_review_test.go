package nfa

import (
	"testing"

	"github.com/cepd/cepd/patterns"
)

// TestUnchangedEnforcesBudget: a step that leaves every run as it was (Matcher.unchanged)
// still ends with the budget's check when the matcher is over the budget it runs under,
// as the full step (the reference, NoGuards) does. A matcher is over its budget between
// calls when it was restored (Import: a checkpoint taken under a larger budget, restarted
// with a smaller one) or its scratch's budget was lowered: the reference cuts at the next
// event, whatever it does to the runs; skipping the check kept the runs until an event
// changed them, and a match they completed then was not the reference's.
func TestUnchangedEnforcesBudget(t *testing.T) {
	pat := &patterns.Pattern{Steps: []*patterns.Step{step("a", 0, nil), step("b", patterns.Relaxed, nil)}}
	for _, lower := range []Budget{{Runs: 2}, {VersionLen: 1}, {Bytes: 400}} {
		var ms [2]*Matcher
		var scs [2]*Scratch
		for i, noGuards := range []bool{false, true} {
			prog, err := Compile(pat, func(s *patterns.Step, _ CondKind) (Condition, error) { return nameIs(s.Name), nil },
				Options{NoGuards: noGuards})
			if err != nil {
				t.Fatal(err)
			}
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
		for j := range ms {
			scs[j].Budget = lower // now over it
		}
		feed(6, "x") // leaves every run as it was
		if a, b := dumpRuns(ms[0]), dumpRuns(ms[1]); a != b || res[0].Cut != res[1].Cut || ms[0].Usage() != ms[1].Usage() {
			t.Fatalf("budget %+v: runs %s (cut %d, %+v), reference %s (cut %d, %+v)", lower,
				a, res[0].Cut, ms[0].Usage(), b, res[1].Cut, ms[1].Usage())
		}
		if res[1].Cut == 0 {
			t.Fatalf("budget %+v: the reference cut nothing: the test does not test", lower)
		}
		feed(7, "b") // what the runs left complete
		if a, b := resultString(&res[0]), resultString(&res[1]); a != b {
			t.Fatalf("budget %+v: matches %s, reference %s", lower, a, b)
		}
	}
}

// TestBudgetDigitsCapped: a Digits budget above MaxBudgetDigits is held to it. The
// account counts in int32 and the digits bound every count (account): a larger budget
// would let a key's counts pass 2^31, where they turn negative and the budget never cuts
// again. (The engine refuses such a budget; the nfa package holds to it on its own.)
func TestBudgetDigitsCapped(t *testing.T) {
	prog := explosiveProgram(t, explosivePatterns()[0].pat)
	m, sc := budgeted(prog, Budget{Runs: 1 << 40, Nodes: 1 << 40, Digits: 1 << 40, Bytes: 1 << 50})
	var res Result
	cut := false
	for i := 0; i < 400 && !cut; i++ {
		m.Process(namedEvent(i, "auth"), sc, &res)
		if u := m.Usage(); u.Digits > MaxBudgetDigits {
			t.Fatalf("event %d: %d digits held, above MaxBudgetDigits", i, u.Digits)
		}
		cut = res.CutBy == "digits"
		res.Reset()
	}
	if !cut {
		t.Fatalf("400 events did not reach MaxBudgetDigits: the test does not test")
	}
}
