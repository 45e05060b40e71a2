package nfa

import (
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// pinnedName is a step condition e.name == step that is its own event-only guard and
// lists itself as a pin (a compiled rule's e.type == 'auth'), for the start index.
type pinnedName struct{ name string }

func (c *pinnedName) Eval(ctx *EvalContext) bool { return ctx.Event.Value(0).AsString() == c.name }
func (c *pinnedName) Guard() Condition           { return c }
func (c *pinnedName) Pins() []Pin {
	return []Pin{{Schema: benchSchema, Field: 0, Op: PinIn, Values: []event.Value{event.String(c.name)}}}
}

// TestStartStep: Program.startStep names the step every match starts in (EvalContext.
// StartEvent then reads first(match.that step) from the run's start event), and is -1
// when a match can start in another step too: an optional first step, whose matches may
// start in the second. (Before, a second start step was found after startStep had been
// set to the first, which it kept: first(match.a) of a match that started in b read b's
// event.) The start index must not rule out an event a match can start with: an event
// of the second step when the first is optional (the start state of such a pattern is
// not skippable, so the index has no pins for it and keeps every event).
func TestStartStep(t *testing.T) {
	q := func(min, max int, optional bool) *patterns.Quantifier {
		return &patterns.Quantifier{Min: min, Max: max, Optional: optional}
	}
	cases := []struct {
		name   string
		steps  []*patterns.Step
		want   string // "" for none
		starts string // the names whose events the start index keeps ("abcx": it has no pins)
	}{
		{"two steps", []*patterns.Step{step("a", 0, nil), step("b", 0, nil)}, "a", "a"},
		{"first loops", []*patterns.Step{step("a", 0, q(1, -1, false)), step("b", 0, nil)}, "a", "a"},
		{"first repeats", []*patterns.Step{step("a", 0, q(2, 3, false)), step("b", 0, nil)}, "a", "a"},
		{"first optional", []*patterns.Step{step("a", 0, q(1, 1, true)), step("b", 0, nil)}, "", "abcx"},
		{"first two optional", []*patterns.Step{step("a", 0, q(1, 1, true)), step("b", 0, q(1, 3, true)), step("c", 0, nil)}, "", "abcx"},
		{"first optional loop", []*patterns.Step{step("a", 0, q(1, -1, true)), step("b", 0, nil)}, "", "abcx"},
	}
	pinned := func(s *patterns.Step, k CondKind) (Condition, error) {
		if k == CondUntil {
			return nil, nil
		}
		return &pinnedName{name: s.Name}, nil
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
		pp, err := Compile(&patterns.Pattern{Steps: c.steps}, pinned, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		x, sc := NewStartIndex([]*Program{pp}), NewScratch()
		kept := ""
		for _, name := range "abcx" {
			ev := (&event.Event{Schema: benchSchema}).SetValues([]event.Value{event.String(string(name)), event.String("k"), event.Int(1)})
			may := x.MayStart(x.Candidates(ev), 0)
			if can := pp.CanStart(ev, sc); can && !may {
				t.Errorf("%s: the index rules out %q, which starts a match", c.name, name)
			}
			if may {
				kept += string(name)
			}
		}
		if kept != c.starts {
			t.Errorf("%s: the index keeps events %q, want %q", c.name, kept, c.starts)
		}
		if guards, ok := pp.StartPins(); ok != (c.starts != "abcx") || ok && len(guards) != len(c.starts) {
			t.Errorf("%s: start pins %v (%v), want one guard per step of %q", c.name, guards, ok, c.starts)
		}
	}
}
