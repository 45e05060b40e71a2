package nfa

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cepd/cepd/patterns"
)

const endStateName = "$endState$"

// compiler turns an element chain into states. It walks the pattern from its end to its
// beginning, exactly as Flink's NFACompiler does, so that state shapes, edge order and
// therefore run versions (and the matches Flink's tests assert) are the same.
type compiler struct {
	prog    *Program
	resolve Resolver

	used       map[string]bool
	stopStates map[string]*state
	windowTime int64
	group      *elem
	firstLoop  map[*elem]bool
	cur, next  *elem // next = Flink's followingPattern
	original   map[string]*state
	copying    map[*state]bool // states copyWithoutNots is inside (cycle guard)
	cycle      bool            // copyWithoutNots met a proceed cycle
}

// Compile compiles p into a Program. resolve supplies the conditions of the steps.
func Compile(p *patterns.Pattern, resolve Resolver, opts Options) (*Program, error) {
	if opts.MaxRuns <= 0 {
		opts.MaxRuns = DefaultMaxRuns
	}
	if resolve == nil {
		resolve = func(*patterns.Step, CondKind) (Condition, error) { return nil, nil }
	}
	c := &compiler{
		prog:       &Program{opts: opts, skip: p.Skip, release: p.Release, pattern: p, stepIdx: map[string]int{}},
		resolve:    resolve,
		used:       map[string]bool{},
		stopStates: map[string]*state{},
		firstLoop:  map[*elem]bool{},
		original:   map[string]*state{},
		copying:    map[*state]bool{},
	}
	var dup error
	patterns.Walk(p.Steps, func(s *patterns.Step) {
		if _, ok := c.prog.stepIdx[s.Name]; ok || s.Name == endStateName || strings.Contains(s.Name, ":") {
			if dup == nil {
				dup = c.errf(s, "step name %q is used twice or reserved", s.Name)
			}
			return
		}
		if !s.IsGroup() {
			c.prog.stepIdx[s.Name] = len(c.prog.steps)
			c.prog.steps = append(c.prog.steps, s.Name)
		} else {
			c.prog.stepIdx[s.Name] = -1
		}
	})
	if dup != nil {
		return nil, dup
	}
	last, err := c.chain(p.Steps)
	if err != nil {
		return nil, err
	}
	if p.WithinMs > 0 {
		if p.WithinType == patterns.PreviousAndCurrent {
			last.windowPC = p.WithinMs
		} else {
			last.windowFL = p.WithinMs
		}
	}
	if sk := p.Skip; sk.Kind == patterns.SkipToFirst || sk.Kind == patterns.SkipToLast {
		if i, ok := c.prog.stepIdx[sk.Step]; !ok || i < 0 {
			return nil, &Error{Pos: sk.Pos, Msg: fmt.Sprintf("skip strategy names step %q, which the pattern does not have", sk.Step)}
		}
	}
	if err := c.compile(last); err != nil {
		return nil, err
	}
	for _, s := range c.prog.states {
		s.step = -1
		if i, ok := c.prog.stepIdx[originalName(s.name)]; ok {
			s.step = i
		}
		if s.typ == stStart {
			c.prog.start = s
		}
	}
	c.prog.window = c.windowTime
	if err := c.checkProceedCycles(); err != nil {
		return nil, err
	}
	c.prog.computeStartTakes()
	c.prog.computeAfterProceed()
	c.prog.computeGuards()
	return c.prog, nil
}

func (c *compiler) compile(last *elem) error {
	c.cur = last
	sink := c.newState(endStateName, stFinal)
	c.windowTime = last.windowFL
	sink = c.middleStates(sink)
	start := c.convert(sink)
	start.typ = stStart
	if c.windowTime > 0 {
		for _, s := range c.prog.states {
			if s.window > c.windowTime {
				return c.errf(last.step, "a gap window (%dms) cannot be longer than the whole-match window (%dms)", s.window, c.windowTime)
			}
		}
	}
	if last.strategy == cNotFollow {
		ok := c.windowTime > 0
		for _, s := range c.prog.states {
			if s.name == last.name && s.window > 0 {
				ok = true
			}
		}
		if !ok {
			return c.errf(last.step, "step %q: a pattern cannot end with 'not followed by' unless it has a window", last.name)
		}
	}
	return nil
}

func originalName(internal string) string {
	if i := strings.IndexByte(internal, ':'); i >= 0 {
		return internal[:i]
	}
	return internal
}

func (c *compiler) uniqueName(base string) string {
	name := base
	for i := 0; c.used[name]; i++ {
		name = base + ":" + strconv.Itoa(i)
	}
	c.used[name] = true
	return name
}

func (c *compiler) newState(name string, t stateType) *state {
	s := &state{id: len(c.prog.states), name: c.uniqueName(name), typ: t}
	c.prog.states = append(c.prog.states, s)
	return s
}

// stateFor creates a state for the current element; take states carry the element's
// gap window (or, for repeating elements, the repetition window on every copy but the
// first — Flink's behaviour, which its tests depend on).
func (c *compiler) stateFor(t stateType, isTake bool) *state {
	s := c.newState(c.cur.name, t)
	if isTake {
		if !c.cur.times {
			if c.cur.windowPC > 0 {
				s.window = c.cur.windowPC
			}
		} else if strings.Contains(s.name, ":") && c.cur.timesWin > 0 {
			s.window = c.cur.timesWin
		}
	}
	return s
}

func (c *compiler) middleStates(sink *state) *state {
	last := sink
	for c.cur.prev != nil {
		switch c.cur.strategy {
		case cNotFollow:
			if (c.cur.windowPC > 0 || c.windowTime > 0) && last.typ == stFinal {
				nf := c.stateFor(stPending, true)
				nc := c.takeCond(c.cur)
				stop := c.stopState(nc, c.cur.name)
				nf.add(actProceed, stop, nc)
				nf.add(actIgnore, nf, not(nc))
				last = nf
			}
		case cNotNext:
			nn := c.stateFor(stNormal, true)
			nc := c.takeCond(c.cur)
			stop := c.stopState(nc, c.cur.name)
			if last.typ == stFinal {
				nn.add(actIgnore, last, not(nc))
			} else {
				nn.add(actProceed, last, not(nc))
			}
			nn.add(actProceed, stop, nc)
			last = nn
		default:
			last = c.convert(last)
		}
		c.next = c.cur
		c.cur = c.cur.prev
		if w := c.cur.windowFL; w > 0 && (c.windowTime == 0 || w < c.windowTime) {
			c.windowTime = w
		}
	}
	return last
}

func (c *compiler) convert(sink *state) *state {
	var last *state
	switch {
	case c.cur.looping:
		c.setFirstOfLoop(false)
		s := c.copyWithoutNots(sink)
		loop := c.looping(s)
		c.setFirstOfLoop(true)
		last = c.timesState(loop, sink)
	case c.cur.times:
		last = c.timesState(sink, sink)
	default:
		last = c.singleton(sink, sink, c.takeCond(c.cur), c.ignoreCond(c.cur), c.cur.optional)
	}
	c.addStopStates(last)
	return last
}

type notCond struct {
	c    *cond
	name string
}

// currentNots lists the notFollowedBy conditions that still apply before the current
// element: those directly before it, or before a run of optional elements before it.
func (c *compiler) currentNots() []notCond {
	var out []notCond
	p := c.cur
	for p.prev != nil && (p.prev.optional || p.prev.strategy == cNotFollow) {
		p = p.prev
		if p.strategy == cNotFollow {
			out = append(out, notCond{c.takeCond(p), p.name})
		}
	}
	return out
}

func (c *compiler) stopState(nc *cond, name string) *state {
	if s, ok := c.stopStates[name]; ok {
		return s
	}
	s := c.newState(name, stStop)
	s.add(actTake, s, nc)
	c.stopStates[name] = s
	return s
}

// copyWithoutNots gives the target of an optional element's take edge: taking an event
// there voids the notFollowedBy conditions before the element.
func (c *compiler) copyWithoutNots(sink *state) *state {
	nots := c.currentNots()
	if len(nots) == 0 || !c.cur.optional {
		return sink
	}
	if c.copying[sink] { // a proceed cycle: reported by checkProceedCycles
		c.cycle = true
		return sink
	}
	c.copying[sink] = true
	defer delete(c.copying, sink)
	cp := c.newState(sink.name, sink.typ)
	for _, e := range sink.edges {
		if e.act == actProceed {
			target, remove := e.target, false
			if target.typ == stStop {
				for _, n := range nots {
					if target.name == n.name {
						remove = true
					}
				}
			} else {
				target = c.copyWithoutNots(e.target)
			}
			if !remove {
				cp.add(e.act, target, e.cond)
			}
			continue
		}
		t := e.target
		if t == sink {
			t = cp
		}
		cp.add(e.act, t, e.cond)
	}
	return cp
}

func (c *compiler) copyState(s *state) *state {
	cp := c.newState(originalName(s.name), s.typ)
	for _, e := range s.edges {
		t := e.target
		if t == s {
			t = cp
		}
		cp.add(e.act, t, e.cond)
	}
	return cp
}

func (c *compiler) addStopStates(s *state) {
	for _, n := range c.currentNots() {
		s.add(actProceed, c.stopState(n.c, n.name), n.c)
	}
}

func (c *compiler) addStopStateToLooping(s *state) {
	if c.next != nil && c.next.strategy == cNotFollow {
		nc := c.takeCond(c.next)
		s.add(actProceed, c.stopState(nc, c.next.name), nc)
	}
}
