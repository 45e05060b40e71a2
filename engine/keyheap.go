package engine

import "unsafe"

// keyHeap is a min-heap of (time, key) entries. Entries are not removed when a key's
// time changes: the consumer skips stale ones (time differs from the key's current one).
//
// An entry's time and key sit side by side, so a step of a sift reads one cache line
// for both children and their keys (the heap holds a shard's keys, megabytes, and most
// of it is cold when a timer pops).
type keyHeap struct {
	e []heapEntry
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
	h.e = append(h.e, heapEntry{})
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
