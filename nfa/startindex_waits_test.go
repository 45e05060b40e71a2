package nfa

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// dispatchedName is a step condition e.name == step that is its own event-only guard and
// a Dispatcher on the name (a compiled rule's e.type == 'auth'), for StartIndex.Waits.
type dispatchedName struct{ name string }

func (c *dispatchedName) Eval(ctx *EvalContext) bool {
	return ctx.Event.Value(0).AsString() == c.name
}
func (c *dispatchedName) Guard() Condition                { return c }
func (c *dispatchedName) Dispatch() (int, []string, bool) { return 0, []string{c.name}, true }

// abProgram compiles a then b (relaxed), each step's where cond(its name).
func abProgram(t *testing.T, cond func(name string) Condition) *Program {
	t.Helper()
	pat := &patterns.Pattern{Steps: []*patterns.Step{step("a", patterns.Relaxed, nil), step("b", patterns.Relaxed, nil)}}
	p, err := Compile(pat, func(s *patterns.Step, k CondKind) (Condition, error) {
		if k == CondUntil {
			return nil, nil
		}
		return cond(s.Name), nil
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStartIndexWaitsUntold: Waits rules out no state until Candidates has told it the
// event (every bit set), and none for an event whose first-level field is not a present
// string; for an event of the second step's type it keeps the state waiting for it and
// rules out the others.
func TestStartIndexWaitsUntold(t *testing.T) {
	p := abProgram(t, func(name string) Condition { return &dispatchedName{name: name} })
	x := NewStartIndex([]*Program{p})
	if w := x.Waits(0); w != ^uint64(0) {
		t.Fatalf("before any event Waits is %b, want every bit set", w)
	}
	ev := func(v event.Value) *event.Event {
		return (&event.Event{Schema: benchSchema}).SetValues([]event.Value{v, event.String("k"), event.Int(1)})
	}
	x.Candidates(ev(event.String("b")))
	b := x.Waits(0)
	if b == ^uint64(0) {
		t.Fatalf("an event of b rules out no state of\n%s", p)
	}
	for _, s := range p.states {
		if s.id < 63 && b>>s.id&1 == 0 && !s.skippable {
			t.Fatalf("an event of b rules out state %s, which is not skippable", s.name)
		}
	}
	x.Candidates(ev(event.Int(3)))
	if w := x.Waits(0); w != ^uint64(0) {
		t.Fatalf("an event whose name is not a string gives Waits %b, want every bit set", w)
	}
}

// TestStartIndexVerdictWrap: a pin's verdict is remembered for its event's generation
// only, also across the wrap of the generation (a verdict of the first generation must
// not pass for one of the generation after the wrap).
func TestStartIndexVerdictWrap(t *testing.T) {
	p := abProgram(t, func(name string) Condition { return &pinnedName{name: name} })
	x := NewStartIndex([]*Program{p})
	for i, c := range []struct {
		name string
		may  bool
	}{{"a", true}, {"b", false}, {"a", true}} {
		if i == 1 {
			x.verdicts.gen = 1<<31 - 1 // the next event wraps the generation to the first's
		}
		ev := (&event.Event{Schema: benchSchema}).SetValues([]event.Value{event.String(c.name), event.String("k"), event.Int(1)})
		if may := x.MayStart(x.Candidates(ev), 0); may != c.may {
			t.Fatalf("event %d (%s): MayStart %v, want %v", i+1, c.name, may, c.may)
		}
	}
}

// TestHintLastsOneCall: a hint (Scratch.Hint) is for the next Process call only: a later
// call given no hint, for the same program and the same event memory holding another
// event (a journal's replay, a reused batch), evaluates every state's guards, whatever
// the caller did after the hinted call.
func TestHintLastsOneCall(t *testing.T) {
	p := abProgram(t, func(name string) Condition { return &dispatchedName{name: name} })
	x, sc, m := NewStartIndex([]*Program{p}), NewScratch(), p.NewMatcher()
	var res Result
	ev := &event.Event{Schema: benchSchema}
	for i, name := range "acb" {
		ev.Seq, ev.Time = uint64(i+1), int64(i+1)
		ev.SetValues([]event.Value{event.String(string(name)), event.String("k"), event.Int(1)})
		if name != 'b' { // b comes as a replay's would: no Candidates, no hint
			x.Candidates(ev)
			sc.Hint(p, ev, x.Waits(0))
		}
		m.Advance(ev.Time, sc, &res)
		m.Process(ev, sc, &res)
	}
	if len(res.Matches) != 1 {
		t.Fatalf("a, c, b gives %d matches, want 1: the hint for c outlived its call", len(res.Matches))
	}
}

// TestHintsWideAndLong: the hints of an index of more programs than a mask holds (70),
// each of more states than Matcher.waiting has bits for (a pattern of 70 steps: states
// past 62 share bit 63, which no hint rules out), give every program the matches of its
// reference (NoGuards) while its runs move through every state.
func TestHintsWideAndLong(t *testing.T) {
	const nSteps, nProgs = 70, 70
	var steps []*patterns.Step
	for i := range nSteps {
		steps = append(steps, step(fmt.Sprintf("s%d", i), patterns.Relaxed, nil))
	}
	resolve := func(s *patterns.Step, k CondKind) (Condition, error) {
		if k == CondUntil {
			return nil, nil
		}
		return &dispatchedName{name: s.Name}, nil
	}
	var fast []*Program
	for range nProgs {
		p, err := Compile(&patterns.Pattern{Steps: steps}, resolve, Options{})
		if err != nil {
			t.Fatal(err)
		}
		fast = append(fast, p)
	}
	ref, err := Compile(&patterns.Pattern{Steps: steps}, resolve, Options{NoGuards: true})
	if err != nil {
		t.Fatal(err)
	}
	x := NewStartIndex(fast)
	if _, ok := x.Mask(); ok {
		t.Fatal("an index of 70 programs has a mask")
	}
	sc, sr := NewScratch(), NewScratch()
	mf, mr := make([]*Matcher, nProgs), ref.NewMatcher()
	for pi, p := range fast {
		mf[pi] = p.NewMatcher()
	}
	rf, rr := make([]Result, nProgs), Result{}
	r := rand.New(rand.NewPCG(7, 9))
	hinted, matches := 0, 0
	for i := range 3 * nSteps {
		name := fmt.Sprintf("s%d", i/3) // every step's event, with others between
		if i%3 != 0 {
			name = fmt.Sprintf("s%d", r.IntN(nSteps+5)) // some no step takes
		}
		ev := (&event.Event{Seq: uint64(i + 1), Time: int64(i + 1), Schema: benchSchema}).
			SetValues([]event.Value{event.String(name), event.String("k"), event.Int(1)})
		x.Candidates(ev)
		mr.Advance(ev.Time, sr, &rr)
		mr.Process(ev, sr, &rr)
		want := resultString(&rr)
		matches += len(rr.Matches)
		rr = Result{}
		for pi, p := range fast {
			w := x.Waits(pi)
			if w>>63&1 == 0 {
				t.Fatalf("event %s: the hint rules out bit 63, which stands for states 63 and on", name)
			}
			if w != ^uint64(0) {
				hinted++
			}
			sc.Hint(p, ev, w)
			mf[pi].Advance(ev.Time, sc, &rf[pi])
			mf[pi].Process(ev, sc, &rf[pi])
			if got := resultString(&rf[pi]); got != want {
				t.Fatalf("event %d (%s), program %d: hinted gives\n%s\nreference gives\n%s", i+1, name, pi, got, want)
			}
			rf[pi] = Result{}
		}
	}
	if hinted == 0 || matches == 0 {
		t.Fatalf("%d hints ruled out a state, %d matches: the test tests little", hinted, matches)
	}
}
