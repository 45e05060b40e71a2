package nfa

import (
	"errors"
	"fmt"

	"github.com/cepd/cepd/event"
)

// Snapshot is a matcher's state in plain, index-linked form, for checkpoints. Events are
// referred to by index into a list the caller keeps (a key's matchers share events), and
// states by their id in the Program, so a snapshot is only meaningful for the program
// that produced it (compare rule fingerprints before importing).
type Snapshot struct {
	Partial   []RunSnapshot
	Completed []RunSnapshot
	Nodes     []NodeSnapshot
}

// RunSnapshot is one partial (or held complete) match.
type RunSnapshot struct {
	State   int32   // state id in the program
	Node    int32   // index into Nodes, -1 for none
	Version []int32 // Dewey number
	StartTs int64
	PrevTs  int64
	StartEv int32 // event index, -1 for none
}

// NodeSnapshot is one shared-buffer entry.
type NodeSnapshot struct {
	Event int32 // event index
	Step  int32
	Edges []EdgeSnapshot
}

// EdgeSnapshot links an entry to its predecessor (-1: none) under a version.
type EdgeSnapshot struct {
	Prev    int32
	Version []int32
}

// Export returns the matcher's state. eventIndex maps each referenced event to its index
// in the caller's event list (adding it there as needed).
func (m *Matcher) Export(eventIndex func(*event.Event) int32) *Snapshot {
	s := &Snapshot{}
	nodeIdx := map[*node]int32{}
	addNode := func(n *node) int32 {
		if n == nil {
			return -1
		}
		if i, ok := nodeIdx[n]; ok {
			return i
		}
		// predecessors first, iteratively, so that deep chains do not recurse deeply
		stack := []*node{n}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			pending := false
			for i := 0; i < x.numEdges(); i++ {
				if p := x.edge(i).prev; p != nil {
					if _, ok := nodeIdx[p]; !ok {
						stack = append(stack, p)
						pending = true
					}
				}
			}
			if pending {
				continue
			}
			stack = stack[:len(stack)-1]
			if _, ok := nodeIdx[x]; ok {
				continue
			}
			ns := NodeSnapshot{Event: eventIndex(x.ev), Step: x.step}
			for i := 0; i < x.numEdges(); i++ {
				e := x.edge(i)
				prev := int32(-1)
				if e.prev != nil {
					prev = nodeIdx[e.prev]
				}
				ns.Edges = append(ns.Edges, EdgeSnapshot{Prev: prev, Version: e.ver.digits()})
			}
			nodeIdx[x] = int32(len(s.Nodes))
			s.Nodes = append(s.Nodes, ns)
		}
		return nodeIdx[n]
	}
	runs := func(h runHeap) []RunSnapshot {
		out := make([]RunSnapshot, len(h))
		for i := range h {
			r := &h[i]
			startEv := int32(-1)
			if r.startEv != nil {
				startEv = eventIndex(r.startEv)
			}
			out[i] = RunSnapshot{State: int32(r.st.id), Node: addNode(r.node), Version: r.ver.digits(),
				StartTs: r.startTs(), PrevTs: r.prevTs(), StartEv: startEv}
		}
		return out
	}
	s.Partial = runs(m.partial)
	s.Completed = runs(m.held())
	return s
}

// Import rebuilds a matcher from a snapshot made by Export for this program. It checks
// every index and returns an error (never panics) on a snapshot that does not fit.
func (p *Program) Import(s *Snapshot, events []*event.Event) (*Matcher, error) {
	if s == nil {
		return nil, errors.New("nfa: nil snapshot")
	}
	nodes := make([]*node, len(s.Nodes))
	for i, ns := range s.Nodes {
		if ns.Event < 0 || int(ns.Event) >= len(events) || events[ns.Event] == nil {
			return nil, fmt.Errorf("nfa snapshot: node %d: event %d out of range", i, ns.Event)
		}
		if ns.Step < 0 || int(ns.Step) >= len(p.steps) {
			return nil, fmt.Errorf("nfa snapshot: node %d: step %d out of range", i, ns.Step)
		}
		if len(ns.Edges) == 0 {
			return nil, fmt.Errorf("nfa snapshot: node %d has no edge", i)
		}
		n := &node{ev: events[ns.Event], step: ns.Step}
		for j, es := range ns.Edges {
			if es.Prev >= int32(i) || es.Prev < -1 {
				return nil, fmt.Errorf("nfa snapshot: node %d: predecessor %d is not an earlier node", i, es.Prev)
			}
			if len(es.Version) == 0 {
				return nil, fmt.Errorf("nfa snapshot: node %d: empty version", i)
			}
			e := bufEdge{ver: deweyOf(es.Version...)}
			if es.Prev >= 0 {
				e.prev = nodes[es.Prev]
			}
			if j == 0 {
				n.first = e
			} else {
				n.addEdge(e)
			}
		}
		nodes[i] = n
	}
	partial, err := p.importRuns(s.Partial, nodes, events)
	if err != nil {
		return nil, err
	}
	completed, err := p.importRuns(s.Completed, nodes, events)
	if err != nil {
		return nil, err
	}
	// One start run, or none: a run from the start state that reaches the stop state
	// takes the start run with it (offerNext discards every run of that step, as Flink
	// does), and the matcher goes on without one; its checkpoint must restore so.
	starts := 0
	for i := range partial {
		if partial[i].st.typ == stStart {
			starts++
		}
	}
	if starts > 1 {
		return nil, fmt.Errorf("nfa snapshot: %d start runs, want at most 1", starts)
	}
	m := &Matcher{prog: p, partial: partial}
	if len(completed) > 0 {
		m.completed = &completed
	}
	m.deadline = m.computeDeadline()
	m.accountImported(nodes)
	return m, nil
}

// importRuns rebuilds a heap of runs of a snapshot (Import), checking every index.
func (p *Program) importRuns(in []RunSnapshot, nodes []*node, events []*event.Event) (runHeap, error) {
	out := make(runHeap, len(in))
	for i, rs := range in {
		if rs.State < 0 || int(rs.State) >= len(p.states) {
			return nil, fmt.Errorf("nfa snapshot: run %d: state %d out of range", i, rs.State)
		}
		if rs.Node < -1 || int(rs.Node) >= len(nodes) {
			return nil, fmt.Errorf("nfa snapshot: run %d: node %d out of range", i, rs.Node)
		}
		if rs.StartEv < -1 || int(rs.StartEv) >= len(events) || rs.StartEv >= 0 && events[rs.StartEv] == nil {
			return nil, fmt.Errorf("nfa snapshot: run %d: event %d out of range", i, rs.StartEv)
		}
		if len(rs.Version) == 0 {
			return nil, fmt.Errorf("nfa snapshot: run %d: empty version", i)
		}
		r := run{st: p.states[rs.State], ver: deweyOf(rs.Version...)}
		if rs.Node >= 0 {
			r.node = nodes[rs.Node]
		}
		if rs.StartEv >= 0 {
			r.startEv = events[rs.StartEv]
		} else if r.st.typ != stStart { // only a start run has taken nothing (run.startTs)
			return nil, fmt.Errorf("nfa snapshot: run %d: no first event in state %s", i, r.st.name)
		}
		if r.startTs() != rs.StartTs { // a run's start time is its first event's (run.startTs)
			return nil, fmt.Errorf("nfa snapshot: run %d: start time %d, its first event's %d", i, rs.StartTs, r.startTs())
		}
		if r.prevTs() != rs.PrevTs { // a run's latest time is its node's (run.prevTs)
			return nil, fmt.Errorf("nfa snapshot: run %d: latest time %d, its latest event's %d", i, rs.PrevTs, r.prevTs())
		}
		out[i] = r
	}
	return out, nil
}

// Rebind moves the matcher to p, a program compiled from the same pattern (equal rule
// fingerprints: the same states in the same order), keeping its partial matches. The
// rules package may compile the same rule again (a reload); its conditions then differ
// only in identity, and the matcher must use the new ones.
func (m *Matcher) Rebind(p *Program) error {
	if len(p.states) != len(m.prog.states) || len(p.steps) != len(m.prog.steps) {
		return fmt.Errorf("nfa: cannot move a matcher to a program of another shape (%d states, %d before)", len(p.states), len(m.prog.states))
	}
	for i, s := range m.prog.states {
		if n := p.states[i]; n.name != s.name || n.typ != s.typ {
			return fmt.Errorf("nfa: cannot move a matcher: state %d is %s, was %s", i, n.name, s.name)
		}
	}
	for _, h := range []runHeap{m.partial, m.held()} {
		for i := range h {
			h[i].st = p.states[h[i].st.id]
		}
	}
	m.prog = p
	m.deadline = m.computeDeadline() // the same runs and windows; its options may differ (expiry)
	return nil
}
