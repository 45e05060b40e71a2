package velocity

// entry is one event, or a bucket of events less than Window/Resolution apart: t0 is
// its first event's time, t1 its newest (it leaves the window with t1). v is the sum
// of its values (Count, Sum, Avg) or their minimum / maximum (Min, Max).
type entry struct {
	t0, t1 int64
	n      int64
	v      float64
}

// dnode is one value of a distinct count, in the list by last sight.
type dnode struct {
	key        Key
	t          int64
	prev, next *dnode
}

// window is the state of one window. Count, Sum and Avg use q (every entry, in time
// order) with the running n and sum; Min and Max use q as a monotonic deque (values
// increasing from the front for Min, decreasing for Max); Distinct uses vals and the
// list head…tail by last sight.
type window struct {
	q    []entry
	qh   int // q[qh:] are live
	n    int64
	sum  float64
	vals map[Key]*dnode
	head *dnode
	tail *dnode
}

func (w *window) live() []entry { return w.q[w.qh:] }

func (w *window) push(e entry) {
	if w.qh > 0 && w.qh >= len(w.q)/2 { // compact: amortised O(1)
		n := copy(w.q, w.q[w.qh:])
		clear(w.q[n:])
		w.q, w.qh = w.q[:n], 0
	}
	w.q = append(w.q, e)
}

// mergeable reports whether an event at t joins the newest entry instead of making one.
func (w *window) mergeable(s Spec, t int64) bool {
	l := w.live()
	if len(l) < ExactEntries {
		return false
	}
	res := max(s.Window/Resolution, 1)
	return t-l[len(l)-1].t0 < res
}

func (w *window) add(s Spec, t int64, num float64, val Key) {
	w.expire(s, t)
	switch s.Func {
	case Count, Sum, Avg:
		if s.Func == Count {
			num = 0
		}
		w.n++
		w.sum += num
		if w.mergeable(s, t) {
			last := &w.q[len(w.q)-1]
			last.t1, last.n, last.v = t, last.n+1, last.v+num
			return
		}
		w.push(entry{t0: t, t1: t, n: 1, v: num})
	case Min, Max:
		for len(w.q) > w.qh {
			b := w.q[len(w.q)-1]
			if s.Func == Min && b.v < num || s.Func == Max && b.v > num {
				break
			}
			w.q = w.q[:len(w.q)-1]
		}
		if len(w.q) > w.qh && w.mergeable(s, t) {
			w.q[len(w.q)-1].t1 = t // its value is the better one; it now leaves with t
			return
		}
		w.push(entry{t0: t, t1: t, n: 1, v: num})
	case Distinct:
		if w.vals == nil {
			w.vals = make(map[Key]*dnode)
		}
		d := w.vals[val]
		if d == nil {
			if len(w.vals) >= MaxDistinct {
				w.unlink(w.head)
			}
			d = &dnode{key: val}
			w.vals[val] = d
		} else {
			w.detach(d)
		}
		d.t = t
		w.append(d)
	}
}

// expire drops what the window has passed at t: entries whose newest event is at least
// Window old.
func (w *window) expire(s Spec, t int64) {
	if s.Func == Distinct {
		for w.head != nil && t-w.head.t >= s.Window {
			w.unlink(w.head)
		}
		return
	}
	for w.qh < len(w.q) && t-w.q[w.qh].t1 >= s.Window {
		e := w.q[w.qh]
		w.q[w.qh] = entry{}
		w.qh++
		if s.Func == Count || s.Func == Sum || s.Func == Avg {
			w.n -= e.n
			w.sum -= e.v
		}
	}
	if w.qh == len(w.q) {
		w.q, w.qh = w.q[:0], 0
		w.n, w.sum = 0, 0 // no rounding error survives an empty window
	}
}

func (w *window) value(f Func) (float64, bool) {
	switch f {
	case Count:
		return float64(w.n), true
	case Sum:
		return w.sum, true
	case Avg:
		if w.n == 0 {
			return 0, false
		}
		return w.sum / float64(w.n), true
	case Min, Max:
		if w.qh == len(w.q) {
			return 0, false
		}
		return w.q[w.qh].v, true
	case Distinct:
		return float64(len(w.vals)), true
	}
	return 0, false
}

func (w *window) append(d *dnode) {
	d.prev, d.next = w.tail, nil
	if w.tail != nil {
		w.tail.next = d
	} else {
		w.head = d
	}
	w.tail = d
}

func (w *window) detach(d *dnode) {
	if d.prev != nil {
		d.prev.next = d.next
	} else {
		w.head = d.next
	}
	if d.next != nil {
		d.next.prev = d.prev
	} else {
		w.tail = d.prev
	}
	d.prev, d.next = nil, nil
}

func (w *window) unlink(d *dnode) {
	w.detach(d)
	delete(w.vals, d.key)
}

func (w *window) clone() window {
	c := window{n: w.n, sum: w.sum}
	if l := w.live(); len(l) > 0 {
		c.q = append([]entry(nil), l...)
	}
	if w.vals != nil {
		c.vals = make(map[Key]*dnode, len(w.vals))
		for d := w.head; d != nil; d = d.next {
			cd := &dnode{key: d.key, t: d.t}
			c.vals[d.key] = cd
			c.append(cd)
		}
	}
	return c
}

func (w *window) footprint() int {
	n := 32*cap(w.q) + 72
	for d := w.head; d != nil; d = d.next {
		n += 80 + len(d.key.S)
	}
	return n
}
