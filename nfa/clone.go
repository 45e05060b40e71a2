package nfa

import (
	"math"
	"slices"
)

// Clone returns an independent copy of the matcher: processing events with one leaves
// the other's matches unchanged. Runs share shared-buffer nodes, Dewey numbers and
// events, which never change once made.
//
// The memory account's reference counts live in the shared nodes (budget.go), so they
// describe one matcher at a time: Clone recounts them for the copy. Whenever the other
// of two matchers that share nodes is to process an event, call its Recount first. It
// costs O(runs + reachable nodes).
func (m *Matcher) Clone() *Matcher {
	c := *m
	c.partial = slices.Clone(m.partial)
	if m.completed != nil {
		h := slices.Clone(*m.completed)
		c.completed = &h
	}
	c.frozen, c.flags = false, m.copied()
	m.copying()
	c.Recount()
	return &c
}

// Snapshot returns a copy of the matcher that costs one small allocation: the two
// matchers share their run arrays until either changes them, which copies them first
// (copy on write). The engine keeps snapshots as the base it re-matches a key from when
// an event arrives out of order for its key; most matchers of a key are not changed by
// the next event, so most snapshots are never copied.
//
// Unlike Clone, Snapshot does not recount the memory account: the snapshot's account
// is the matcher's as it was. Before a snapshot processes an event, call its Recount (as
// for any of two matchers that share nodes).
func (m *Matcher) Snapshot() *Matcher {
	c := new(Matcher)
	m.SnapshotTo(c)
	return c
}

// SnapshotTo is Snapshot into memory the caller provides (to take the snapshots of a
// key's matchers in one allocation).
func (m *Matcher) SnapshotTo(dst *Matcher) {
	m.frozen = true
	m.copying()
	*dst = *m
	dst.flags = m.copied()
}

// Thaw ends the freeze a Snapshot put on the matcher, when the caller knows that no copy
// of it made since it was last thawed or Reset (its snapshot, a Clone of either) is used
// any more, and that its account is its own (it was recounted after any other matcher
// sharing its nodes was: Clone): the engine drops a key's base, and a re-match replaced
// the matchers the base was taken from. The matcher owns its arrays and its nodes again:
// its next change writes its arrays in place instead of copying them, and its block's
// node is reused once released (block.go). Thawing a matcher whose copy is still used
// corrupts the copy.
func (m *Matcher) Thaw() {
	m.frozen = false
	m.releaseRuns()
	m.flags &^= shared
}

// ownCompleted gives a frozen matcher its own array of held complete matches (and the
// slice header: a snapshot shares the pointer) before they change; setPartial then
// replaces its partial matches and ends the freeze.
func (m *Matcher) ownCompleted() {
	if !m.frozen || m.completed == nil {
		return
	}
	if len(*m.completed) == 0 { // nothing held: back to none rather than a box of nothing
		m.completed = nil
		return
	}
	h := slices.Clone(*m.completed)
	m.completed = &h
}

// held returns the complete matches the matcher holds back (nil: none).
func (m *Matcher) held() runHeap {
	if m.completed == nil {
		return nil
	}
	return *m.completed
}

// heldRef returns the matcher's held complete matches to change (after ownCompleted),
// making their slice on the first: most matchers never hold one, so the slice is out of
// line (a Matcher is 80 bytes, not 96).
func (m *Matcher) heldRef() *runHeap {
	if m.completed == nil {
		m.completed = new(runHeap)
	}
	return m.completed
}

// setPartial replaces the matcher's partial matches with runs (which may be m.partial
// itself, as CutAll passes it, but no other part of it) and ends a freeze: a frozen
// matcher's array is left to its snapshot.
func (m *Matcher) setPartial(runs runHeap) {
	if m.flags&runsFree != 0 && len(runs) <= len(m.blockOf().runs) {
		m.backToBlock(runs)
		return
	}
	if m.frozen {
		m.partial = make(runHeap, len(runs), max(len(runs), 2))
		copyRuns(m.partial, runs)
		m.frozen = false
		return
	}
	if len(runs) < len(m.partial) {
		clearRuns(m.partial[len(runs):])
	}
	if len(runs) > cap(m.partial) {
		old := m.partial
		m.partial = append(m.partial[:0], runs...)
		clearRuns(old) // it may be the matcher's block's (block.go), which stays
		m.leftBlock(old)
		return
	}
	m.partial = m.partial[:len(runs)]
	copyRuns(m.partial, runs)
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
	for _, h := range [2]runHeap{m.partial, m.held()} {
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
	m.acct = account{}
	m.accountImported(nodes)
}
