package engine

import "unsafe"

// keyHeap is a min-heap of (time, key) entries. Entries are not removed when a key's
// time changes: the consumer skips stale ones (time differs from the key's current one).
//
// An entry's time and key sit side by side, so a step of a sift reads one cache line
// for both children and their keys (the heap holds a shard's keys, megabytes, and most
// of it is cold when a timer pops). The array is placed so that e[3] starts a 64-byte
// line (grow): then the children of a node's two children, e[4i+3..4i+6], fill one
// line, so a sift down reads a new line every second level, and the line the next level
// reads is the same whichever child this level's compare picks: the load a predicted
// branch issues early is the right one even when the prediction is wrong (with e[0] on
// a line, as the allocator gives a large array, those four entries straddled two lines,
// and half the child pairs did). Simulated first-level misses in keyheap.go fell from 24
// to 18 an event (BenchmarkFraudPaths/fast).
//
// It stays binary: a 4-ary heap with a node's four children in one line (half the
// levels, half the simulated misses again) was slower wherever the heap is not in the
// L2 cache (session 19: BenchmarkKeyHeap l3 and cold, and a probe timing the engine's
// pops): its next line is one of four, and what a predicted branch loads early is
// mostly the wrong one; without branches it loads nothing early.
type keyHeap struct {
	e []heapEntry // e[3] starts a 64-byte line, or the first 16 bytes of one (grow)
}

type heapEntry struct {
	at int64
	ks *keyState
}

func (h *keyHeap) len() int     { return len(h.e) }
func (h *keyHeap) minAt() int64 { return h.e[0].at }

// push adds (at, ks). It and pop move a hole rather than swap entries (one write a
// level, not two: each entry holds a pointer, a write barrier while the collector
// marks); the entries end where a sift by swaps leaves them, so ties between keys with
// the same time pop in the same order (TestKeyHeapSameAsSwaps).
func (h *keyHeap) push(at int64, ks *keyState) {
	if len(h.e) == cap(h.e) {
		h.grow()
	}
	h.e = h.e[:len(h.e)+1]
	e := h.e
	i := len(e) - 1
	for i > 0 {
		p := (i - 1) / 2
		if at >= e[p].at {
			break
		}
		e[i] = e[p]
		i = p
	}
	e[i] = heapEntry{at, ks}
}

const (
	heapEntrySize = unsafe.Sizeof(heapEntry{})    // 16
	heapLine      = 64                            // bytes of a cache line
	heapQuad      = int(heapLine / heapEntrySize) // entries a line: the children of two siblings
)

// grow gives e room for about a quarter more entries (as append grows a large slice),
// in a new array where e[3] starts in the first 16 bytes of a 64-byte line. Arrays of
// 32 KiB and more (heaps of 2,045 entries and more) and of 512 bytes or less are 16-byte
// aligned, and e[3] starts the line; the others begin 8 bytes into a 16-byte slot (Go's
// 8-byte header before an object with pointers of that size), e[3] starts 8 bytes into
// the line, and the last of the four entries' key spills into the next (their times,
// what a sift compares, share the line). Were an array less aligned still, the heap
// would be right, only slower (TestKeyHeapLineAligned).
func (h *keyHeap) grow() {
	n := len(h.e)
	c := 2 * n
	if n >= 256 {
		c = n + (n+3*256)/4
	}
	c = max(c, 2*heapQuad)
	buf := make([]heapEntry, c+heapQuad-1)
	// skip the fewest entries that bring &buf[off+3] into the first 16 bytes of a line
	a := (uintptr(unsafe.Pointer(&buf[0])) + 3*heapEntrySize) % heapLine
	off := int((heapLine-a+heapEntrySize-1)/heapEntrySize) % heapQuad
	e := buf[off : off+n : off+c]
	copy(e, h.e)
	h.e = e
}

// pop removes the entry with the least time (the heap must not be empty). The sift
// down reaches the children by pointer arithmetic from e[0], not by index: with indexes
// the compiler checks four bounds a level (it cannot prove 2i+1 < n from the loop's own
// test), about a third of a level's instructions, and a pop is 13–15 levels on the
// reference workload's heaps (2.7 pops an event). Every child read is at l or l+1 below
// n = len(e), tested just before; the moves are the ones the indexed loop made
// (TestKeyHeapSameAsSwaps, TestKeyHeapTimersSameAsSwaps).
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
		l := 2*i + 1
		if l >= n {
			break
		}
		c := (*heapEntry)(unsafe.Add(base, uintptr(l)*unsafe.Sizeof(heapEntry{})))
		if l+1 < n {
			if r := (*heapEntry)(unsafe.Add(unsafe.Pointer(c), unsafe.Sizeof(heapEntry{}))); r.at < c.at {
				c, l = r, l+1
			}
		}
		if c.at >= x.at {
			break
		}
		*hole = *c
		hole, i = c, l
	}
	*hole = x
	return top.at, top.ks
}
