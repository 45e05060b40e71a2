package nfa

import (
	"fmt"
	"strings"

	"github.com/cepd/cepd/patterns"
)

type stateType uint8

const (
	stNormal stateType = iota
	stStart
	stFinal
	stStop
	stPending
)

var stateTypeNames = [...]string{"normal", "start", "final", "stop", "pending"}

type action uint8

const (
	actTake action = iota
	actIgnore
	actProceed
)

var actionNames = [...]string{"take", "ignore", "proceed"}

// state is one NFA state. Its name is unique in the program ("step", "step:0", …) and its
// step is the pattern step whose events it takes (-1 for the final state).
type state struct {
	id     int
	name   string
	step   int
	typ    stateType
	edges  []edge
	window int64 // > 0: a run waiting here expires window ms after its latest event
	// skippable: a run waiting here is unchanged by an event for which every leaf in
	// guard is ruled out by its Guard (see guard.go).
	skippable bool
	guard     []int
	// staticProceed: the proceed edges reachable from this state evaluate no leaf, and
	// afterProceed is the final state they reach (nil: none); see proceed.go.
	staticProceed bool
	afterProceed  *state
}

type edge struct {
	act    action
	target *state
	cond   *cond
}

func (s *state) add(a action, target *state, c *cond) {
	s.edges = append(s.edges, edge{act: a, target: target, cond: c})
}

// Program is a compiled pattern: immutable after Compile and shared by every shard.
type Program struct {
	opts    Options
	states  []*state
	start   *state
	window  int64 // FirstAndLast window in ms (0 = none)
	skip    patterns.Skip
	release patterns.Release
	leaves  []leaf
	steps   []string // names of the steps that take events, in pattern order
	stepIdx map[string]int
	pattern *patterns.Pattern
	// startTakes are the conditions under which the start state takes an event; idle is
	// the start run CanStart evaluates them against.
	startTakes []*cond
	idle       run
	// startStep is the step (index into steps) of every match's first event, when the
	// start state's take edges all take into one step; -1 otherwise (StartEvent).
	startStep int
}

// Window returns the whole-match window in milliseconds (0 = none).
func (p *Program) Window() int64 { return p.window }

// Steps returns the names of the steps that take events, in pattern order.
func (p *Program) Steps() []string { return p.steps }

// NumStates returns the number of NFA states.
func (p *Program) NumStates() int { return len(p.states) }

// String dumps the NFA: one line per state with its edges, deterministic (golden tests,
// cepd explain).
func (p *Program) String() string {
	var b strings.Builder
	if p.window > 0 {
		fmt.Fprintf(&b, "window %dms\n", p.window)
	}
	if p.skip.Kind != patterns.NoSkip {
		fmt.Fprintf(&b, "skip %s\n", p.skip)
	}
	if p.release == patterns.InStartOrder && p.skip.Kind != patterns.NoSkip { // no effect without a skip
		b.WriteString("release in_start_order\n")
	}
	for _, s := range p.states {
		fmt.Fprintf(&b, "%s [%s]", s.name, stateTypeNames[s.typ])
		if s.window > 0 {
			fmt.Fprintf(&b, " window=%dms", s.window)
		}
		b.WriteByte('\n')
		for _, e := range s.edges {
			fmt.Fprintf(&b, "  %-7s -> %-16s if %s\n", actionNames[e.act], e.target.name, p.condString(e.cond))
		}
	}
	if len(p.leaves) > 0 {
		b.WriteString("conditions:\n")
		for _, l := range p.leaves {
			name := l.step
			if l.kind == CondUntil {
				name += ".until"
			}
			fmt.Fprintf(&b, "  %s: %s\n", name, l.text)
		}
	}
	return b.String()
}
