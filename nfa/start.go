package nfa

import "github.com/cepd/cepd/event"

// CanStart reports whether a matcher with nothing live would do anything with ev: whether
// a take edge of the start state (directly or through proceed edges) accepts it. When it
// does not, feeding ev to an idle matcher leaves it idle, so the caller need not create
// or touch any state for the key (the analogue of a regexp's literal prefix). The
// conditions involved are precomputed at compile time.
func (p *Program) CanStart(ev *event.Event, sc *Scratch) bool {
	ctx := &sc.ctx
	ctx.Event, ctx.Memo, ctx.m, ctx.sc = ev, sc.Memo, nil, sc
	ctx.reset(&p.idle)
	if p.ruledOut(p.start, sc) {
		return false
	}
	sc.newLeafGen(len(p.leaves))
	for _, c := range p.startTakes {
		if p.eval(c, sc) {
			return true
		}
	}
	return false
}

// computeStartTakes collects, for every take edge reachable from the start state through
// proceed edges, the conjunction of the conditions on the way and on the edge.
func (p *Program) computeStartTakes() {
	type item struct {
		s    *state
		path *cond
		seen map[*state]bool
	}
	p.idle = run{st: p.start, ver: deweyOne}
	var steps []int // the steps of the start takes' events
	stack := []item{{s: p.start, path: condTrue, seen: map[*state]bool{p.start: true}}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for i := range it.s.edges {
			e := &it.s.edges[i]
			switch e.act {
			case actTake:
				p.startTakes = append(p.startTakes, conj(it.path, e.cond))
				steps = append(steps, it.s.step)
			case actProceed:
				if it.seen[e.target] {
					continue
				}
				seen := make(map[*state]bool, len(it.seen)+1)
				for k := range it.seen {
					seen[k] = true
				}
				seen[e.target] = true
				stack = append(stack, item{s: e.target, path: conj(it.path, e.cond), seen: seen})
			}
		}
	}
	p.startStep = -1
	for _, st := range steps {
		if st < 0 || st != steps[0] {
			return // a match may start in another step: first(match.s) walks the buffer
		}
	}
	if len(steps) > 0 {
		p.startStep = steps[0]
	}
}

// StartEvent returns the event the partial match under evaluation started with, when
// every match of the program starts with an event of step (the start state takes events
// into that step alone): that event is then first(match.step), found without walking
// the shared buffer. ok is false otherwise (no run with a start event, another step, or
// Options.NoGuards: the reference path walks the buffer, Matched); the caller then reads
// Matched(step).
func (c *EvalContext) StartEvent(step string) (ev *event.Event, ok bool) {
	if c.m == nil || c.run == nil || c.run.startEv == nil {
		return nil, false
	}
	p := c.m.prog
	if p.startStep < 0 || p.opts.NoGuards || p.steps[p.startStep] != step {
		return nil, false
	}
	return c.run.startEv, true
}

func conj(a, b *cond) *cond {
	switch {
	case a.op == opTrue:
		return b
	case b.op == opTrue:
		return a
	}
	return and(a, b)
}
