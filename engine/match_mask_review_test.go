package engine

import (
	"slices"
	"testing"
)

// TestWideRuleSetsMatchNarrowInOrder is TestWideRuleSetsMatchNarrow without
// out-of-orderness: a key's first event then reaches matchRules with no key state (no
// journal made one), so a rule set of more than 64 rules, which has no start mask
// (nfa.StartIndex.Mask false), must still visit every rule for it.
func TestWideRuleSetsMatchNarrowInOrder(t *testing.T) {
	for i := range 2 {
		sc := wideScenario(i)
		sc.ooo, sc.maxJournal = 0, 0
		wide := alertsOf(reuseRunWith(t, sc, wideSwaps(t, i%2, false), nil))
		narrow := alertsOf(reuseRunWith(t, sc, wideSwaps(t, i%2, true), nil))
		if len(narrow) == 0 {
			t.Fatalf("scenario %d: no alerts", i)
		}
		if !slices.Equal(wide, narrow) {
			t.Fatalf("scenario %d (%+v): %d alerts of the wide sets' shared rules, %d of the narrow sets'", i, sc, len(wide), len(narrow))
		}
	}
}
