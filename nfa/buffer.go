package nfa

import "github.com/cepd/cepd/event"

// node is an entry of the shared buffer: one event accepted into one step. Runs that
// took the same event into the same step while processing it share the node; each keeps
// its own edge back to its predecessor, told apart by Dewey versions (Flink's
// SharedBufferNode and SharedBufferEdge). Nodes are immutable once the event that created
// them has been processed, so they can be shared between runs (and with copies of the
// matcher); unreferenced nodes are reclaimed by the garbage collector, except the one in
// a matcher's block, which the matcher reuses once its account releases it and no copy
// can reach it (block.go).
//
// A node is 48 bytes with its pointers first (the first edge's version's length, step
// and refs after them), so that the collector scans 32 bytes of it, not 48
// (TestNodeLayout): nodes are a retained event's own cost, about four a key.
type node struct {
	ev *event.Event
	// more holds the edges after the first: runs seldom merge, so the slice is out of
	// line (a node is 48 bytes, not 64).
	more  *[]bufEdge
	first bufEdge
	step  int32
	refs  int32 // edges and runs that reach it (budget.go); -1 once released
}

type bufEdge struct {
	prev *node // nil: the run started here
	ver  dewey
}

func (n *node) numEdges() int {
	if n.more == nil {
		return 1
	}
	return 1 + len(*n.more)
}

func (n *node) edge(i int) *bufEdge {
	if i == 0 {
		return &n.first
	}
	return &(*n.more)[i-1]
}

// addEdge appends an edge after the first.
func (n *node) addEdge(e bufEdge) {
	if n.more == nil {
		n.more = new([]bufEdge)
	}
	*n.more = append(*n.more, e)
}

// put records that a run of m took ev into step, after prev, as version ver. Nodes for
// the same event and step made while processing ev are merged, as Flink merges by NodeId.
// The first node a matcher made by NewMatcher makes is its block's (block.go).
func (sc *Scratch) put(m *Matcher, step int, ev *event.Event, prev *node, ver dewey) *node {
	if sc.Retain != nil {
		ev = sc.Retain(ev)
	}
	for _, n := range sc.nodes {
		if n.ev == ev && int(n.step) == step {
			n.addEdge(bufEdge{prev: prev, ver: ver})
			return n
		}
	}
	n := m.newNode()
	*n = node{ev: ev, step: int32(step), first: bufEdge{prev: prev, ver: ver}}
	sc.nodes = append(sc.nodes, n)
	return n
}

type extraction struct {
	n    *node
	ver  dewey
	path []*node // latest first
}

// maxPaths bounds how many event sequences are reconstructed for one complete match when
// a skip strategy needs them all: runs that merged in the shared buffer can make their
// number grow exponentially with the match length.
const maxPaths = 1024

// paths reconstructs up to limit event sequences of the run ending at n with version ver,
// by a depth-first walk over edges compatible with the version (Flink's extractPatterns,
// in the same order: the first path is the one Flink's first path is). Each path is
// returned oldest event first.
func (sc *Scratch) paths(n *node, ver dewey, limit int) [][]*node {
	if n == nil {
		return nil
	}
	var out [][]*node
	stack := append(sc.exStack[:0], extraction{n: n, ver: ver})
	for len(stack) > 0 {
		st := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if st.n == nil {
			p := make([]*node, len(st.path))
			for i, x := range st.path {
				p[len(p)-1-i] = x
			}
			out = append(out, p)
			if len(out) >= limit {
				break
			}
			continue
		}
		path := append(st.path, st.n)
		first := true
		for i := 0; i < st.n.numEdges(); i++ {
			e := st.n.edge(i)
			if !st.ver.compatible(e.ver) {
				continue
			}
			// The first branch owns path (and may grow it in place); the others copy it.
			np := path
			if first {
				first = false
			} else {
				np = append(make([]*node, 0, len(path)+4), path...)
			}
			stack = append(stack, extraction{n: e.prev, ver: e.ver, path: np})
		}
	}
	sc.exStack = stack[:0]
	return out
}

// match turns a path into a Match with the steps in pattern order.
func (p *Program) match(path []*node) Match {
	counts := make([]int, len(p.steps))
	used := 0
	for _, n := range path {
		if counts[n.step] == 0 {
			used++
		}
		counts[n.step]++
	}
	m := Match{Steps: make([]StepEvents, 0, used)}
	idx := make([]int, len(p.steps))
	for i, c := range counts {
		if c > 0 {
			idx[i] = len(m.Steps)
			m.Steps = append(m.Steps, StepEvents{Step: p.steps[i], Events: make([]*event.Event, 0, c)})
		}
	}
	for _, n := range path {
		se := &m.Steps[idx[n.step]]
		se.Events = append(se.Events, n.ev)
	}
	return m
}
