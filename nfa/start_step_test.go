package nfa

import (
	"testing"

	"github.com/cepd/cepd/patterns"
)

// TestStartStep: Program.startStep names the step every match starts in (EvalContext.
// StartEvent then reads first(match.that step) from the run's start event), and is -1
// when a match can start in another step too: an optional first step, whose matches may
// start in the second. (Before, a second start step was found after startStep had been
// set to the first, which it kept: first(match.a) of a match that started in b read b's
// event.)
func TestStartStep(t *testing.T) {
	q := func(min, max int, optional bool) *patterns.Quantifier {
		return &patterns.Quantifier{Min: min, Max: max, Optional: optional}
	}
	cases := []struct {
		name  string
		steps []*patterns.Step
		want  string // "" for none
	}{
		{"two steps", []*patterns.Step{step("a", 0, nil), step("b", 0, nil)}, "a"},
		{"first loops", []*patterns.Step{step("a", 0, q(1, -1, false)), step("b", 0, nil)}, "a"},
		{"first repeats", []*patterns.Step{step("a", 0, q(2, 3, false)), step("b", 0, nil)}, "a"},
		{"first optional", []*patterns.Step{step("a", 0, q(1, 1, true)), step("b", 0, nil)}, ""},
		{"first two optional", []*patterns.Step{step("a", 0, q(1, 1, true)), step("b", 0, q(1, 3, true)), step("c", 0, nil)}, ""},
		{"first optional loop", []*patterns.Step{step("a", 0, q(1, -1, true)), step("b", 0, nil)}, ""},
	}
	for _, c := range cases {
		p, err := Compile(&patterns.Pattern{Steps: c.steps}, letterResolve, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := ""
		if p.startStep >= 0 {
			got = p.steps[p.startStep]
		}
		if got != c.want {
			t.Errorf("%s: matches start in step %q, want %q", c.name, got, c.want)
		}
	}
}
