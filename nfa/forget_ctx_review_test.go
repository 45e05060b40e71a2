package nfa

import (
	"math/rand/v2"
	"testing"

	"github.com/cepd/cepd/event"
)

// TestForgetProgramsDropsEvalContext: ForgetPrograms leaves no reference to the last
// matcher the scratch evaluated conditions for (EvalContext.m, .run): that matcher, its
// program and its runs' states stayed reachable from an idle shard's scratch after a rule
// swap until its next step (a matcher of a removed or changed rule is dropped by the
// swap, not re-bound).
func TestForgetProgramsDropsEvalContext(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 9))
	var prog *Program
	for prog == nil {
		var data [64]byte
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		prog, _ = Compile(fuzzPattern(&fuzzBytes{b: data[:]}), letterResolve, Options{Timeouts: true, MaxRuns: 256})
	}
	sc := NewScratch()
	m, res, ts := prog.NewMatcher(), Result{}, int64(0)
	for j := range 60 {
		ts += int64(r.IntN(3))
		ev := (&event.Event{Seq: uint64(j + 1), Time: ts, Schema: benchSchema}).
			SetValues([]event.Value{event.String(string(rune('a' + r.IntN(5)))), event.String("k"), event.Int(ts)})
		m.Advance(ev.Time, sc, &res)
		m.Process(ev, sc, &res)
		res.Reset()
	}
	if sc.ctx.m == nil {
		t.Fatal("the feed evaluated no condition: the test shows nothing")
	}
	sc.ForgetPrograms()
	if sc.ctx.m != nil || sc.ctx.run != nil {
		t.Fatalf("after ForgetPrograms the scratch's evaluation context still refers to a matcher (%v) or run (%v)", sc.ctx.m != nil, sc.ctx.run != nil)
	}
}
