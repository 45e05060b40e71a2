package nfa

import (
	"math/rand/v2"
	"testing"
)

// TestForgetProgramsDropsEvalContext: ForgetPrograms leaves no reference to the last
// matcher the scratch evaluated conditions for (EvalContext.m, .run): that matcher, its
// program and its runs' states stayed reachable from an idle shard's scratch after a rule
// swap until its next step (a matcher of a removed or changed rule is dropped by the
// swap, not re-bound).
func TestForgetProgramsDropsEvalContext(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 9))
	prog := randomPrograms(r, 1)[0]
	sc := NewScratch()
	feedLetters(prog.NewMatcher(), sc, r)
	if sc.ctx.m == nil {
		t.Fatal("the feed evaluated no condition: the test shows nothing")
	}
	sc.ForgetPrograms()
	if sc.ctx.m != nil || sc.ctx.run != nil {
		t.Fatalf("after ForgetPrograms the scratch's evaluation context still refers to a matcher (%v) or run (%v)", sc.ctx.m != nil, sc.ctx.run != nil)
	}
}
