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

func (h *keyHeap) push(at int64, ks *keyState) {
	h.e = append(h.e, heapEntry{at, ks})
	e := h.e
	i := len(e) - 1
	for i > 0 {
		p := (i - 1) / 2
		if e[i].at >= e[p].at {
			break
		}
		e[i], e[p] = e[p], e[i]
		i = p
	}
}

func (h *keyHeap) pop() (int64, *keyState) {
	e := h.e
	top := e[0]
	n := len(e) - 1
	e[0] = e[n]
	e[n] = heapEntry{}
	e = e[:n]
	h.e = e
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && e[l].at < e[m].at {
			m = l
		}
		if r < n && e[r].at < e[m].at {
			m = r
		}
		if m == i {
			break
		}
		e[i], e[m] = e[m], e[i]
		i = m
	}
	return top.at, top.ks
}
