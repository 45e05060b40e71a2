package nfa

import (
	"math"
	"slices"
)

// Clone returns an independent copy of the matcher: processing events with one leaves
// the other's matches unchanged. Runs share shared-buffer nodes, Dewey numbers and
// events, which never change once made. The engine keeps a clone as the snapshot it
// re-matches a key from when an event arrives out of order for its key.
//
// The memory account's reference counts live in the shared nodes (budget.go), so they
// describe one matcher at a time: Clone recounts them for the copy. Whenever the other
// of two matchers that share nodes is to process an event, call its Recount first. It
// costs O(runs + reachable nodes).
func (m *Matcher) Clone() *Matcher {
	c := *m
	c.partial = slices.Clone(m.partial)
	c.completed = slices.Clone(m.completed)
	c.Recount()
	return &c
}

// recounting marks a node Recount has reached (refs is ≥ 0 while counted, -1 released);
// no count comes near it.
const recounting = math.MinInt32

// Recount rebuilds the matcher's memory account from its runs, taking over the reference
// counts of every node they reach. The account is then exact for this matcher, whatever
// another matcher sharing its nodes did to them.
func (m *Matcher) Recount() {
	var nodes []*node
	reach := func(n *node) {
		if n != nil && n.refs != recounting {
			n.refs = recounting
			nodes = append(nodes, n)
		}
	}
	for _, h := range [2]runHeap{m.partial, m.completed} {
		for i := range h {
			reach(h[i].node)
		}
	}
	for i := 0; i < len(nodes); i++ {
		n := nodes[i]
		for j := 0; j < n.numEdges(); j++ {
			reach(n.edge(j).prev)
		}
	}
	for _, n := range nodes {
		n.refs = 0
	}
	m.acct = account{cut: m.acct.cut}
	m.accountImported(nodes)
}
