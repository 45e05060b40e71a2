package engine

import "unsafe"

// keyHeap is a min-heap of (time, key) entries. Entries are not removed when a key's
// time changes: the consumer skips stale ones (time differs from the key's current one).
//
// It is 4-ary, and the four children of a node fill one 64-byte cache line: an entry's
// time and key sit side by side (16 bytes), the children of e[i] are e[4i+1..4i+4], and
// e starts one entry before a line boundary (grow), so a step of a sift reads one line
// for all the children and their keys (large heaps; in heaps of 30 to 2,047 entries one
// line holds their times), and a pop is half the levels of a binary heap's
// (the heap holds a shard's keys, megabytes, and most of it is cold when a timer pops:
// 7–8 levels, not 13–15, on the reference workload's heaps of 50k–130k entries).
//
// The order it pops entries of equal time (different keys) in is a textbook 4-ary
// heap's, sifting by swaps: a function of the pushes and pops alone (deterministic), not
// the order they were pushed in (TestKeyHeapSameAsSwaps checks the layout against one).
type keyHeap struct {
	e []heapEntry // e[0] is the root; &e[1] is in the first 16 bytes of a 64-byte line (grow)
}

type heapEntry struct {
	at int64
	ks *keyState
}

const (
	heapArity     = 4                          // children a node (pop's tournament is for four)
	heapEntrySize = unsafe.Sizeof(heapEntry{}) // 16
	heapLine      = heapArity * heapEntrySize  // 64: the children of a node, one cache line
	heapLinePad   = heapArity - 1              // entries grow may skip to align e[1]
)

func (h *keyHeap) len() int     { return len(h.e) }
func (h *keyHeap) minAt() int64 { return h.e[0].at }

// push adds (at, ks). It and pop move a hole rather than swap entries (one write a
// level, not two: each entry holds a pointer, a write barrier while the collector
// marks); the entries end where a sift by swaps leaves them.
func (h *keyHeap) push(at int64, ks *keyState) {
	if len(h.e) == cap(h.e) {
		h.grow()
	}
	h.e = h.e[:len(h.e)+1]
	e := h.e
	i := len(e) - 1
	for i > 0 {
		p := (i - 1) / heapArity
		if at >= e[p].at {
			break
		}
		e[i] = e[p]
		i = p
	}
	e[i] = heapEntry{at, ks}
}

// grow gives e room for about a quarter more entries (as append grows a large slice),
// in a new array where e[1] starts in the first 16 bytes of a 64-byte line, so that the
// children of every node share a line, or at least their times do (what a sift step
// compares; the winner's key is read to move it). Arrays of 32 KiB and more (heaps of
// 2,048 entries and more) and of 512 bytes or less are 16-byte aligned, and e[1] starts
// the line; the others begin 8 bytes into a 16-byte slot (the allocator's header before
// an object with pointers), e[1] starts 8 bytes into the line, and the last child's key
// spills into the next. Were an array less aligned still, the heap would be right, only
// slower (TestKeyHeapChildrenShareALine).
func (h *keyHeap) grow() {
	n := len(h.e)
	c := 2 * n
	if n >= 256 {
		c = n + (n+3*256)/4
	}
	c = max(c, 2*heapArity)
	buf := make([]heapEntry, c+heapLinePad)
	// skip the fewest entries that bring &buf[off+1] to the first 16 bytes of a line
	a := (uintptr(unsafe.Pointer(&buf[0])) + heapEntrySize) % heapLine
	off := int((heapLine - a + heapEntrySize - 1) / heapEntrySize % heapArity)
	e := buf[off : off+n : off+c]
	copy(e, h.e)
	h.e = e
}

// pop removes the entry with the least time (the heap must not be empty). The sift
// down moves the hole to the least of a node's children (the first of equal ones) while
// it is less than the last entry, which then fills the hole, as a swap heap would move
// it. It reaches the children by pointer arithmetic from e[0], not by index (with
// indexes the compiler checks a bound for each child: it cannot prove 4i+4 < n from the
// loop's own test); every child read is below n = len(e), tested just before. The least
// of four is found as a tournament, (c0 vs c1) vs (c2 vs c3), the left winning ties (the
// first least, as a scan would find it), in two rounds of flag and conditional-move
// arithmetic: which child is least is a coin toss on random times, and as branches
// (what the compiler makes of a choice between pointers that are then loaded from) the
// three compares mispredicted about half the time each, costing more than the levels
// saved (BenchmarkKeyHeap).
func (h *keyHeap) pop() (int64, *keyState) {
	e := h.e
	top := e[0]
	n := len(e) - 1
	x := e[n]
	e[n] = heapEntry{}
	e = e[:n]
	h.e = e
	if n == 0 {
		return top.at, top.ks
	}
	base := unsafe.Pointer(&e[0])
	hole := (*heapEntry)(base)
	i := 0
	for {
		l := heapArity*i + 1
		if l >= n {
			break
		}
		c := (*heapEntry)(unsafe.Add(base, uintptr(l)*heapEntrySize))
		m := c.at
		if l+heapArity <= n { // all four children: (c0 vs c1) vs (c2 vs c3), without branches
			a1 := (*heapEntry)(unsafe.Add(unsafe.Pointer(c), heapEntrySize)).at
			a2 := (*heapEntry)(unsafe.Add(unsafe.Pointer(c), 2*heapEntrySize)).at
			a3 := (*heapEntry)(unsafe.Add(unsafe.Pointer(c), 3*heapEntrySize)).at
			k, k2 := b2u(a1 < m), 2+b2u(a3 < a2)
			m2 := min(a2, a3)
			m = min(m, a1)
			k ^= (k ^ k2) & -b2u(m2 < m) // the right pair's only if strictly less
			m = min(m, m2)
			c = (*heapEntry)(unsafe.Add(unsafe.Pointer(c), k*heapEntrySize))
		} else {
			for k := l + 1; k < n; k++ {
				if q := (*heapEntry)(unsafe.Add(base, uintptr(k)*heapEntrySize)); q.at < m {
					c, m = q, q.at
				}
			}
		}
		if m >= x.at {
			break
		}
		*hole = *c
		hole = c
		i = int((uintptr(unsafe.Pointer(c)) - uintptr(base)) / heapEntrySize)
	}
	*hole = x
	return top.at, top.ks
}

// b2u is 1 for true, 0 for false: the compiler makes it a flag, not a branch.
func b2u(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}
