package nfa

// This file holds the state builders for quantifiers and groups (Flink's
// createTimesState, createSingletonState, createLooping and the group variants).

func (c *compiler) timesState(sink, proceed *state) *state {
	last := sink
	c.setFirstOfLoop(false)
	until := c.cur.until
	innerIgnore := extendUntil(c.innerIgnoreCond(c.cur), until, false)
	take := extendUntil(c.takeCond(c.cur), until, true)
	if c.cur.greedy && c.cur.from != c.cur.to {
		if until != nil {
			c.original[sink.name] = c.copyState(sink)
		}
		greedy(sink, take)
	}
	for i := c.cur.from; i < c.cur.to; i++ {
		last = c.singleton(last, proceed, take, innerIgnore, true)
		c.addStopStateToLooping(last)
	}
	for i := 0; i < c.cur.from-1; i++ {
		last = c.singleton(last, nil, take, innerIgnore, false)
		c.addStopStateToLooping(last)
	}
	c.setFirstOfLoop(true)
	return c.singleton(last, proceed, take, c.ignoreCond(c.cur), c.cur.optional)
}

func (c *compiler) singleton(sink, proceed *state, take, ignore *cond, optional bool) *state {
	if c.cur.group != nil {
		return c.groupState(c.cur, sink, proceed, optional)
	}
	s := c.stateFor(stNormal, true)
	target := c.copyWithoutNots(sink)
	s.add(actTake, target, take)
	pc := c.trueCond()
	if optional {
		if c.cur.greedy {
			until := c.cur.until
			if until != nil {
				// Flink looks up the un-greedied copy of the proceed target; when the
				// target was itself copied (notFollowedBy before an optional loop) no copy
				// is registered and Flink would fail on a null state: use the target.
				orig := c.original[proceed.name]
				if orig == nil {
					orig = proceed
				}
				s.add(actProceed, orig, and(pc, until))
				s.add(actProceed, proceed, and(pc, not(until)))
			} else {
				s.add(actProceed, proceed, pc)
			}
		} else {
			s.add(actProceed, proceed, pc)
		}
	}
	if ignore != nil {
		ig := s
		if optional || c.headOfOptionalGroup(c.cur) {
			ig = c.stateFor(stNormal, false)
			ig.add(actTake, target, take)
			ig.add(actIgnore, ig, ignore)
			c.addStopStates(ig)
		}
		s.add(actIgnore, ig, ignore)
	}
	return s
}

func (c *compiler) groupState(g *elem, sink, proceed *state, optional bool) *state {
	pc := c.trueCond()
	oldCur, oldNext, oldGroup := c.cur, c.next, c.group
	c.group = g
	c.cur = g.group
	last := c.middleStates(sink)
	last = c.convert(last)
	if optional {
		last.add(actProceed, proceed, pc)
	}
	c.cur, c.next, c.group = oldCur, oldNext, oldGroup
	return last
}

func (c *compiler) loopingGroupState(g *elem, sink *state) *state {
	pc := c.trueCond()
	oldCur, oldNext, oldGroup := c.cur, c.next, c.group
	dummy := c.stateFor(stNormal, true)
	c.group = g
	c.cur = g.group
	last := c.middleStates(dummy)
	last = c.convert(last)
	last.add(actProceed, sink, pc)
	dummy.add(actProceed, last, pc)
	c.cur, c.next, c.group = oldCur, oldNext, oldGroup
	return last
}

func (c *compiler) looping(sink *state) *state {
	if c.cur.group != nil {
		return c.loopingGroupState(c.cur, sink)
	}
	until := c.cur.until
	ignore := extendUntil(c.innerIgnoreCond(c.cur), until, false)
	take := extendUntil(c.takeCond(c.cur), until, true)
	pc := c.trueCond()
	loop := c.stateFor(stNormal, true)
	if c.cur.greedy {
		if until != nil {
			cp := c.copyState(sink)
			loop.add(actProceed, cp, and(pc, until))
			c.original[sink.name] = cp
			loop.add(actProceed, sink, and(pc, not(until)))
		} else {
			loop.add(actProceed, sink, pc)
		}
		greedy(sink, c.takeCond(c.cur))
	} else {
		loop.add(actProceed, sink, pc)
	}
	loop.add(actTake, loop, take)
	c.addStopStateToLooping(loop)
	if ignore != nil {
		ig := c.stateFor(stNormal, false)
		ig.add(actTake, loop, take)
		ig.add(actIgnore, ig, ignore)
		loop.add(actIgnore, ig, ignore)
		c.addStopStateToLooping(ig)
	}
	return loop
}

// greedy makes every edge of s also require that the repeating step cannot take the event.
func greedy(s *state, take *cond) {
	for i := range s.edges {
		s.edges[i].cond = and(s.edges[i].cond, not(take))
	}
}

func extendUntil(c, until *cond, isTake bool) *cond {
	switch {
	case until != nil && c != nil:
		return and(not(until), c)
	case until != nil && isTake:
		return not(until)
	}
	return c
}

func (c *compiler) setFirstOfLoop(v bool) {
	if c.cur.group != nil {
		c.firstLoop[c.cur] = v
	}
}

func (c *compiler) groupFirstOfLoop() bool {
	if c.group == nil {
		return true
	}
	v, ok := c.firstLoop[c.group]
	return !ok || v
}

func (c *compiler) headOfGroup(e *elem) bool { return c.group != nil && e.prev == nil }

func (c *compiler) headOfOptionalGroup(e *elem) bool {
	return c.headOfGroup(e) && c.groupFirstOfLoop() && c.group.optional
}

func (c *compiler) groupUntil() *cond {
	if c.group != nil {
		return c.group.until
	}
	return nil
}

func ignoreFor(s consuming, where *cond) *cond {
	switch s {
	case cNext:
		return not(where)
	case cAny:
		return condTrue
	}
	return nil
}

func (c *compiler) innerIgnoreCond(e *elem) *cond {
	s := e.inner
	if c.headOfGroup(e) {
		s = c.group.inner
	}
	return c.ignoreUnder(s, e)
}

// ignoreUnder is the condition under which e ignores an event with strategy s, extended
// by the enclosing group's until condition.
func (c *compiler) ignoreUnder(s consuming, e *elem) *cond {
	ig := ignoreFor(s, e.where)
	if u := c.groupUntil(); u != nil {
		ig = extendUntil(ig, u, false)
	}
	return ig
}

func (c *compiler) ignoreCond(e *elem) *cond {
	s := e.strategy
	if c.headOfGroup(e) {
		if c.groupFirstOfLoop() {
			s = c.group.strategy
		} else {
			s = c.group.inner
		}
	}
	return c.ignoreUnder(s, e)
}

func (c *compiler) takeCond(e *elem) *cond {
	t := e.where
	if u := c.groupUntil(); u != nil {
		t = extendUntil(t, u, true)
	}
	return t
}

func (c *compiler) trueCond() *cond {
	t := condTrue
	if u := c.groupUntil(); u != nil {
		t = extendUntil(t, u, true)
	}
	return t
}
