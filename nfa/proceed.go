package nfa

// Static proceed walks.
//
// finalAfterProceed walks the proceed edges from the state a take edge leads to, and
// evaluates their conditions, for every take. Most take targets need no walk: the proceed
// edges the walk can follow from them carry no leaf
// condition, so the walk evaluates no leaf (and counts no error), and its result is known
// when the program is compiled: the final state if the walk reaches it through edges whose
// conditions are true (a condition without a leaf is a constant: true, or its negation),
// else none. computeAfterProceed records that result (state.afterProceed) for such states
// (state.staticProceed); the others are walked per take as before.

// computeAfterProceed fills state.staticProceed and state.afterProceed. The reference
// path (Options.NoGuards) walks every time.
func (p *Program) computeAfterProceed() {
	if p.opts.NoGuards {
		return
	}
	for _, s := range p.states {
		final, static := staticProceed(s)
		s.staticProceed = static
		if static {
			s.afterProceed = final
		}
	}
}

// staticProceed walks the proceed edges from s as finalAfterProceed does, and reports
// whether it evaluates no leaf on the way (static) and, if so, the final state the walk
// returns (nil: none). It does not stop at the final state as the walk does: a leaf
// anywhere the walk could follow makes the state walked (conservative, never wrong).
func staticProceed(s *state) (final *state, static bool) {
	seen := map[*state]bool{s: true}
	stack := []*state{s}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for i := range cur.edges {
			e := &cur.edges[i]
			if e.act != actProceed {
				continue
			}
			v, ok := constCond(e.cond)
			switch {
			case !ok:
				return nil, false
			case !v: // the walk does not follow it
				continue
			case e.target.typ == stFinal:
				final = e.target
			}
			if !seen[e.target] {
				seen[e.target] = true
				stack = append(stack, e.target)
			}
		}
	}
	return final, true
}

// constCond returns c's value when evaluating it (Program.eval) evaluates no leaf
// (ok); ok is false when it may.
func constCond(c *cond) (v, ok bool) {
	switch c.op {
	case opTrue:
		return true, true
	case opNot:
		v, ok := constCond(c.a)
		return !v, ok
	case opAnd:
		if v, ok := constCond(c.a); !ok || !v {
			return false, ok
		}
		return constCond(c.b)
	}
	return false, false
}
