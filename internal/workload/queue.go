package workload

// queue is a min-heap of pending events ordered by (ts, seq): the order they are written
// in. It is hand-rolled (no container/heap interface calls) because every event passes
// through it.
type queue []*ev

func less(a, b *ev) bool {
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	return a.seq < b.seq
}

func (q *queue) push(e *ev) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *queue) peek() *ev {
	if len(*q) == 0 {
		return nil
	}
	return (*q)[0]
}

func (q *queue) pop() *ev {
	h := *q
	n := len(h) - 1
	top := h[0]
	h[0] = h[n]
	h[n] = nil
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && less(h[r], h[l]) {
			m = r
		}
		if !less(h[m], h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}
