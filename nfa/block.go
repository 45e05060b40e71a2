package nfa

import "unsafe"

// block is what NewMatcher allocates: the matcher, its first run array and a
// shared-buffer entry, one heap object where they were three. A collection's mark phase
// visits every live object (each visit mostly a cache miss), and a key holds a few live
// matchers; most hold two runs or fewer (the start run and one more) and one or two
// entries. The block is 208 bytes, a size class: the three apart were 80, 80 and 48.
// The matcher comes last, so that the collector reads 168 bytes of it, not 192: the
// run array's and the node's pointers first, then the matcher's (TestBlockLayout).
//
// What of its block a matcher uses is in its flags: inBlock (the matcher is a block's; a
// copy, Clone or Snapshot, never is), nodeFree (the block's node is not in use), runsFree
// (the block's run array is cleared and not in use), shared (the matcher was copied
// while the block's node was in use: the copy may reach it) and gaveUp (the matcher gave
// its block up). The rules that keep a block's memory from being read as two things at
// once:
//   - The run array is the matcher's first m.partial, written in place as long as the
//     matcher owns it (not frozen) and its runs fit. When they no longer fit, setPartial
//     moves them to an array of their own and clears the block's (nothing else reads an
//     array a matcher that is not frozen owns), so the block holds no stale pointer. A
//     frozen matcher's array is its snapshot's (lent) until Thaw, which clears the
//     block's array if the matcher has left it (releaseRuns). A free array takes the
//     runs again when they fit (backToBlock).
//   - The node is the one put makes when it is free (newNode). It is free again when the
//     matcher's account releases it (no run or node of the matcher reaches it: the
//     account is exact, TestBudgetUsageIsExact) or Reset empties the matcher, but only
//     while no copy may reach it (not shared): nodes are shared with snapshots and
//     clones, and released from one matcher's account at a time, so a matcher copied
//     while the node was in use cannot tell that no other still reaches it, and it stays
//     that node until Thaw says the copies are gone. A node made after a copy is the
//     matcher's alone (its account of it is exact: a copy's Recount never reaches it).
//     A node freed is cleared (freeNode): it holds no event.
//   - Reset gives the block up for good (keepBlock; the matcher is then no block's) when
//     the node is shared or the array lent: a snapshot may outlive the matcher's next
//     Thaw, which is for its next key when the matcher is recycled.
//
// So a block may hold what its matcher held once emptied: a node or array a copy
// reaches. An engine that keeps emptied matchers for reuse asks Reusable after Reset,
// and Forget instead of zeroing a Matcher, so that a matcher it keeps holds nothing a
// removed key held.
type block struct {
	runs [2]run
	n    node
	m    Matcher
}

// blockMatcher is the offset of a block's matcher.
const blockMatcher = unsafe.Offsetof(block{}.m)

// mflags are a matcher's flags.
type mflags uint8

const (
	flagCut  mflags = 1 << iota // the budget cut the matcher's runs since it was created (WasCut)
	inBlock                     // the matcher is a block's (NewMatcher; blockOf)
	nodeFree                    // the block's node is not in use (newNode)
	shared                      // the matcher was copied (Clone, Snapshot) while its block's node was in use
	runsFree                    // the block's run array is cleared and not in use (backToBlock)
	gaveUp                      // the matcher gave its block up (Reset after a copy): not Reusable
)

// Reusable reports whether the matcher, emptied by Reset, holds nothing of what it held:
// false when it gave its block up (block.go), whose node and run array may still hold
// what it and its copies held. Callers that keep emptied matchers for reuse keep only
// reusable ones.
func (m *Matcher) Reusable() bool { return m.flags&gaveUp == 0 }

// Forget empties the matcher as setting it to the zero Matcher does, and reports
// whether its memory may be reused (as SnapshotTo's destination) without keeping what it
// held reachable: a Matcher alone may, one made by NewMatcher may not (its block keeps
// its node and run array, which zeroing does not clear).
func (m *Matcher) Forget() bool {
	ok := m.flags&(inBlock|gaveUp) == 0
	*m = Matcher{}
	return ok
}

// blockOf returns the block m is the matcher of (m.flags has inBlock).
func (m *Matcher) blockOf() *block {
	return (*block)(unsafe.Add(unsafe.Pointer(m), -int(blockMatcher)))
}

// newNode returns a zero node for put: the block's when it is free, else a new one.
func (m *Matcher) newNode() *node {
	if m.flags&nodeFree == 0 {
		return new(node)
	}
	m.flags &^= nodeFree
	return &m.blockOf().n
}

// copying notes that m is copied (Clone, Snapshot): the copy reaches the block's node if
// it is in use (shared), and its run array if m is frozen.
func (m *Matcher) copying() {
	if m.flags&(inBlock|nodeFree) == inBlock {
		m.flags |= shared
	}
}

// keepBlock decides, as Reset empties m, whether the block can go on serving it: not if
// another matcher may reach the block's node (shared), or may hold its run array (lent
// to a snapshot: m is frozen and uses it, or left it while frozen and Thaw has not
// cleared it since, runsFree). A snapshot may outlive the matcher's next Thaw (a
// recycled matcher is thawed for its next key's journal), so the block is then given up
// for good, and the matcher is not Reusable.
func (m *Matcher) keepBlock() {
	if m.flags&inBlock == 0 {
		return
	}
	b := m.blockOf()
	inUse := unsafe.SliceData(m.partial) == &b.runs[0]
	lent := m.frozen && inUse || !inUse && m.flags&runsFree == 0
	if lent || m.flags&shared != 0 {
		m.flags = m.flags&^(inBlock|nodeFree|runsFree|shared) | gaveUp
	}
}

// copied is the flags of a copy of m (Clone, Snapshot): a copy is no block's.
func (m *Matcher) copied() mflags { return m.flags &^ (inBlock | nodeFree | runsFree) }

// ownNode returns the block's node when it is in use and no other matcher can reach it
// (m was never copied), else nil.
func (m *Matcher) ownNode() *node {
	if m.flags&(inBlock|nodeFree|shared) != inBlock {
		return nil
	}
	return &m.blockOf().n
}

// freeNode clears the block's node, which no run or node of m reaches and no other
// matcher can (ownNode), and makes it free for put.
func (m *Matcher) freeNode() {
	m.blockOf().n = node{}
	m.flags |= nodeFree
}

// releaseRuns clears the block's run array when m (owning its arrays: not frozen) no
// longer uses it: a snapshot had it when the matcher moved to another (setPartial), and
// nothing reads it since (Thaw).
func (m *Matcher) releaseRuns() {
	if m.flags&inBlock == 0 {
		return
	}
	b := m.blockOf()
	if unsafe.SliceData(m.partial) != &b.runs[0] {
		clearRuns(b.runs[:])
		m.flags |= runsFree
	}
}

// leftBlock notes that m, owning its arrays, moved its runs out of old, now cleared
// (setPartial): the block's array is free if it was old.
func (m *Matcher) leftBlock(old runHeap) {
	if m.flags&inBlock != 0 && unsafe.SliceData(old) == &m.blockOf().runs[0] {
		m.flags |= runsFree
	}
}

// backToBlock is setPartial for runs that fit the block's free run array: the matcher
// goes back to it, leaving the array it had (its own, or its snapshot's when frozen)
// to the collector, so that a matcher whose runs grew for a while holds one object
// again.
func (m *Matcher) backToBlock(runs runHeap) {
	b := m.blockOf()
	p := b.runs[:len(runs):len(b.runs)]
	copyRuns(p, runs)
	m.partial, m.frozen = p, false
	m.flags &^= runsFree
}
