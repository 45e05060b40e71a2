package nfa

import "github.com/cepd/cepd/event"

// CanStart reports whether a matcher with nothing live would do anything with ev: whether
// a take edge of the start state (directly or through proceed edges) accepts it. When it
// does not, feeding ev to an idle matcher leaves it idle, so the caller need not create
// or touch any state for the key (the analogue of a regexp's literal prefix).
func (p *Program) CanStart(ev *event.Event, sc *Scratch) bool {
	var probe Matcher
	probe.prog = p
	start := run{st: p.start, ver: dewey{1}, startTs: -1, prevTs: -1}
	ctx := &sc.ctx
	ctx.Event, ctx.Memo, ctx.m, ctx.sc = ev, sc.Memo, &probe, sc
	ctx.reset(&start)
	sc.newLeafGen(len(p.leaves))
	stack := append(sc.stack[:0], p.start)
	defer func() { sc.stack = stack[:0] }()
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for i := range s.edges {
			e := &s.edges[i]
			if e.act == actIgnore || !probe.eval(e.cond, sc) {
				continue
			}
			if e.act == actTake {
				return true
			}
			stack = append(stack, e.target)
		}
	}
	return false
}
