package engine

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

// pop removes the entry with the least time (the heap must not be empty).
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
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c, least := l, e[l].at
		if r := l + 1; r < n && e[r].at < least {
			c, least = r, e[r].at
		}
		if least >= x.at {
			break
		}
		e[i] = e[c]
		i = c
	}
	e[i] = x
	return top.at, top.ks
}
