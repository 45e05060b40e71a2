package nfa

import (
	"fmt"

	"github.com/cepd/cepd/patterns"
)

// checkProceedCycles rejects programs in which a run could go round a loop of proceed
// edges without taking an event (a repeating group whose every step is optional): the
// matcher would never finish exploring such a loop. Flink does not reject these patterns
// and spins on them; cepd refuses them at compile time.
func (c *compiler) checkProceedCycles() error {
	const (
		unseen = iota
		onStack
		done
	)
	mark := make([]uint8, len(c.prog.states))
	var cycleAt *state
	var visit func(s *state) bool
	visit = func(s *state) bool {
		mark[s.id] = onStack
		for _, e := range s.edges {
			if e.act != actProceed {
				continue
			}
			switch mark[e.target.id] {
			case onStack:
				cycleAt = e.target
				return true
			case unseen:
				if visit(e.target) {
					return true
				}
			}
		}
		mark[s.id] = done
		return false
	}
	for _, s := range c.prog.states {
		if mark[s.id] == unseen && visit(s) || c.cycle && cycleAt == nil {
			if cycleAt == nil {
				cycleAt = s
			}
			name := originalName(cycleAt.name)
			var pos patterns.Pos
			patterns.Walk(c.prog.pattern.Steps, func(st *patterns.Step) {
				if st.Name == name {
					pos = st.Pos
				}
			})
			for _, st := range c.prog.states {
				if mark[st.id] == onStack && c.prog.stepIdx[originalName(st.name)] < 0 {
					name = originalName(st.name) // prefer naming the group
				}
			}
			if _, ok := c.prog.stepIdx[name]; !ok { // not a step: name the first repeating group
				patterns.Walk(c.prog.pattern.Steps, func(st *patterns.Step) {
					if _, ok := c.prog.stepIdx[name]; !ok && st.IsGroup() && st.Quantifier != nil {
						name, pos = st.Name, st.Pos
					}
				})
			}
			return &Error{Pos: pos, Msg: fmt.Sprintf("%q can repeat without taking any event (every step inside a repeating group is optional); make at least one step in it required", name)}
		}
	}
	return nil
}
