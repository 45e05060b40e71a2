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
	nameOnly := func(s *patterns.Step, _ CondKind) (Condition, error) { return nameIs(s.Name), nil }
	for _, restored := range []bool{false, true} {
		checkBudgetBetweenCalls(t, nameOnly, restored, nil)
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
