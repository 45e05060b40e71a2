package state_test

import (
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/state"
)

// TestKeyAtBudgetDecodes: a key whose matchers are at nfa's default budget, under the
// explosive patterns of issue 11 (long greedy loops: versions thousands of digits long,
// sharing prefixes, so that a blob holds many digits per byte), encodes to a blob that
// decodes. The decoder's limits must admit every state the budget admits, or a restart
// refuses the key and replays the events that made it: a crash loop.
func TestKeyAtBudgetDecodes(t *testing.T) {
	loop := func(greedy bool, inner patterns.Contiguity) *patterns.Quantifier {
		return &patterns.Quantifier{Min: 1, Max: -1, Greedy: greedy, Inner: inner}
	}
	pats := map[string]*patterns.Pattern{
		"greedy-loops": {Steps: []*patterns.Step{
			{Name: "a", Where: "x", Quantifier: loop(true, 0)},
			{Name: "b", Where: "x", Contiguity: patterns.Relaxed, Quantifier: loop(true, 0)},
			{Name: "never", Where: "never", Contiguity: patterns.Relaxed}}},
		"strict-greedy-loop": {Steps: []*patterns.Step{
			{Name: "a", Where: "x", Quantifier: loop(true, patterns.Strict)},
			{Name: "never", Where: "never", Contiguity: patterns.Relaxed}}},
		"any-loop": {Steps: []*patterns.Step{
			{Name: "a", Where: "x", Quantifier: loop(false, patterns.Any)},
			{Name: "never", Where: "never", Contiguity: patterns.Any}}},
	}
	resolve := func(s *patterns.Step, _ nfa.CondKind) (nfa.Condition, error) {
		never := s.Where == "never"
		return nfa.ConditionFunc(func(*nfa.EvalContext) bool { return !never }), nil
	}
	for name, pat := range pats {
		t.Run(name, func(t *testing.T) {
			prog, err := nfa.Compile(pat, resolve, nfa.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := prog.NewMatcher()
			sc := nfa.NewScratch() // the default budget
			var res nfa.Result
			cut, peak := 0, nfa.Usage{}
			var ks *state.KeyState
			for i := range 3000 {
				m.Process(cardEvent("card-1", i), sc, &res)
				cut += res.Cut
				res.Reset()
				// Export when the matcher is fullest: just before its first cut.
				if u := m.Usage(); u.Digits > peak.Digits && cut == 0 {
					peak = u
					ks = export(m, "card-1", name)
				}
			}
			if cut == 0 {
				t.Fatalf("the default budget was never reached (usage %+v)", m.Usage())
			}
			blob := state.AppendKeyState(nil, ks, cardSchema)
			if _, err := state.DecodeKeyState(blob, cardSchema); err != nil {
				t.Fatalf("a key at the budget (peak %+v, blob %d bytes) does not decode: %v", peak, len(blob), err)
			}
			t.Logf("peak %+v: %d-byte blob, %.0f digits per byte", peak, len(blob), float64(peak.Digits)/float64(len(blob)))
		})
	}
}

func export(m *nfa.Matcher, key, rule string) *state.KeyState {
	ks := &state.KeyState{Key: key}
	idx := map[*event.Event]int32{}
	snap := m.Export(func(e *event.Event) int32 {
		if i, ok := idx[e]; ok {
			return i
		}
		idx[e] = int32(len(ks.Events))
		ks.Events = append(ks.Events, e)
		return idx[e]
	})
	ks.Rules = []state.RuleState{{RuleID: rule, Fingerprint: "0123456789abcdef", Matcher: snap}}
	return ks
}
