package velocity

import (
	"maps"
	"slices"
	"strings"
	"unsafe"
)

// entry is one event, or a bucket of events less than Window/Resolution apart: t0 is
// its first event's time, t1 its newest (it leaves the window with t1). v is the sum
// of its values (Count, Sum, Avg) or their minimum / maximum (Min, Max).
type entry struct {
	t0, t1 int64
	n      int64
	v      float64
}

// dnode is one value of a distinct count, in the list by last sight (indexes into
// window.dn; -1 is none). Nodes live in one slice so that a clone is two copies, not one
// allocation per value.
type dnode struct {
	key        Key
	t          int64
	prev, next int32
}

// window is the state of one window. Count, Sum and Avg use q (every entry, in time
// order) with the running n and sum; Min and Max use q as a monotonic deque (values
// increasing from the front for Min, decreasing for Max); Distinct uses vals and the
// list head…tail by last sight (dn holds the nodes, free the first unused one).
// A window's header is in two parts, one per kind of function (the other part keeps
// its initial value), so that the undo log records only the part a change can touch.
type window struct {
	qwin
	dwin
}

// qwin is the header of a Count, Sum, Avg, Min or Max window.
type qwin struct {
	q   []entry
	qh  int // q[qh:] are live
	n   int64
	sum float64
}

// dwin is the header of a Distinct window.
type dwin struct {
	vals map[Key]int32 // nil while there are at most smallIndex values (found by a scan)
	dn   []dnode
	nd   int32 // values held
	head int32
	tail int32
	free int32
}

func newWindow() window { return window{dwin: dwin{head: -1, tail: -1, free: -1}} }

func (w *window) live() []entry { return w.q[w.qh:] }

// room is the bytes of the array of the part of the window f uses (its capacity): a
// window's other part is never used, its array nil.
func (w *window) room(f Func) int {
	if f == Distinct {
		return cap(w.dn) * int(unsafe.Sizeof(dnode{}))
	}
	return cap(w.q) * int(unsafe.Sizeof(entry{}))
}

// empty empties the part of the window f uses (the other part, never used, keeps its
// initial value): as newWindow, keeping the part's array when keep, for an aggregate
// nothing else refers to (Agg.Recycle). The values' nodes are zeroed (their strings
// dropped); the entries, which hold no pointer and are read only below the length, are
// left as they are, untouched. Only the part's half of the header is read or written.
func (w *window) empty(f Func, keep bool) {
	if f == Distinct {
		var dn []dnode
		if keep {
			dn = w.dn[:cap(w.dn)]
			clear(dn)
			dn = dn[:0]
		}
		w.dwin = dwin{dn: dn, head: -1, tail: -1, free: -1}
		return
	}
	var q []entry
	if keep {
		q = w.q[:0]
	}
	w.qwin = qwin{q: q}
}

func (w *window) push(e entry, u *Undo) {
	if w.qh > 0 && w.qh >= len(w.q)/2 { // compact: amortised O(1)
		if u != nil { // into a new array: the log may restore the old one
			q := make([]entry, len(w.q)-w.qh, cap(w.q))
			copy(q, w.q[w.qh:])
			w.q, w.qh = q, 0
		} else { // (the slots past the length are not cleared: an entry holds no pointer)
			n := copy(w.q, w.q[w.qh:])
			w.q, w.qh = w.q[:n], 0
		}
	}
	if n := len(w.q); u != nil && n < cap(w.q) {
		u.logEnt(&w.q[:n+1][n]) // a slot an older length may have shown
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

// add counts one event; changes are logged to u (nil: none), the window's own header
// excepted (the caller logs what holds it).
func (w *window) add(s Spec, t int64, num float64, val Key, u *Undo) {
	w.expire(s, t, u)
	switch s.Func {
	case Count, Sum, Avg:
		if s.Func == Count {
			num = 0
		}
		w.n++
		w.sum += num
		if w.mergeable(s, t) {
			last := &w.q[len(w.q)-1]
			u.logEnt(last)
			last.t1, last.n, last.v = t, last.n+1, last.v+num
			return
		}
		w.push(entry{t0: t, t1: t, n: 1, v: num}, u)
	case Min, Max:
		for len(w.q) > w.qh {
			b := w.q[len(w.q)-1]
			if s.Func == Min && b.v < num || s.Func == Max && b.v > num {
				break
			}
			w.q = w.q[:len(w.q)-1]
		}
		if len(w.q) > w.qh && w.mergeable(s, t) {
			u.logEnt(&w.q[len(w.q)-1])
			w.q[len(w.q)-1].t1 = t // its value is the better one; it now leaves with t
			return
		}
		w.push(entry{t0: t, t1: t, n: 1, v: num}, u)
	case Distinct:
		val = val.inline()
		d, ok := w.find(val)
		if !ok {
			if w.nd >= MaxDistinct {
				w.unlink(w.head, u)
			}
			val.S = strings.Clone(val.S) // not the event's whole values slab (package event)
			d = w.alloc(val, u)
			w.index(val, d, u)
		} else {
			w.detach(d, u)
		}
		u.logDn(&w.dn[d])
		w.dn[d].t = t
		w.append(d, u)
	}
}

// stale reports whether expire(t) would drop something.
func (w *window) stale(s Spec, t int64) bool {
	if s.Func == Distinct {
		return w.head >= 0 && t-w.dn[w.head].t >= s.Window
	}
	return w.qh < len(w.q) && t-w.q[w.qh].t1 >= s.Window
}

// expire drops what the window has passed at t: entries whose newest event is at least
// Window old. Changes are logged to u as in add.
func (w *window) expire(s Spec, t int64, u *Undo) {
	if s.Func == Distinct {
		for w.head >= 0 && t-w.dn[w.head].t >= s.Window {
			w.unlink(w.head, u)
		}
		return
	}
	for w.qh < len(w.q) && t-w.q[w.qh].t1 >= s.Window {
		e := w.q[w.qh]
		w.qh++ // (the slot keeps its entry: it holds no pointer, and a log may show it again)
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
		return float64(w.nd), true
	}
	return 0, false
}

// alloc takes a free node (or a new one) for key.
func (w *window) alloc(key Key, u *Undo) int32 {
	if w.free >= 0 {
		d := w.free
		w.free = w.dn[d].next
		u.logDn(&w.dn[d])
		w.dn[d] = dnode{key: key, prev: -1, next: -1}
		return d
	}
	if n := len(w.dn); u != nil && n < cap(w.dn) {
		u.logDn(&w.dn[:n+1][n]) // a slot an older length may have shown
	}
	w.dn = append(w.dn, dnode{key: key, prev: -1, next: -1})
	return int32(len(w.dn) - 1)
}

func (w *window) append(d int32, u *Undo) {
	n := &w.dn[d]
	u.logDn(n)
	n.prev, n.next = w.tail, -1
	if w.tail >= 0 {
		u.logDn(&w.dn[w.tail])
		w.dn[w.tail].next = d
	} else {
		w.head = d
	}
	w.tail = d
}

func (w *window) detach(d int32, u *Undo) {
	n := &w.dn[d]
	if n.prev >= 0 {
		u.logDn(&w.dn[n.prev])
		w.dn[n.prev].next = n.next
	} else {
		w.head = n.next
	}
	if n.next >= 0 {
		u.logDn(&w.dn[n.next])
		w.dn[n.next].prev = n.prev
	} else {
		w.tail = n.prev
	}
	u.logDn(n)
	n.prev, n.next = -1, -1
}

// smallIndex is how many values (of a distinct count, or groups) are found by scanning
// their list before a map indexes them: most keys hold a few, and a map costs a few
// hundred bytes and an allocation per copy.
const smallIndex = 8

// find returns the node of value k (in its kept form, Key.inline).
func (w *window) find(k Key) (int32, bool) {
	if w.vals != nil {
		d, ok := w.vals[k]
		return d, ok
	}
	for d := w.head; d >= 0; d = w.dn[d].next {
		if w.dn[d].key == k {
			return d, true
		}
	}
	return -1, false
}

// index counts node d (not yet listed) as value k's, building the map when the values
// outgrow a scan.
func (w *window) index(k Key, d int32, u *Undo) {
	w.nd++
	switch {
	case w.vals != nil:
		u.logMap(w.vals, k)
		w.vals[k] = d
	case w.nd > smallIndex:
		w.vals = make(map[Key]int32, w.nd)
		for e := w.head; e >= 0; e = w.dn[e].next {
			w.vals[w.dn[e].key] = e
		}
		w.vals[k] = d
	}
}

func (w *window) unlink(d int32, u *Undo) {
	w.detach(d, u)
	if w.vals != nil {
		u.logMap(w.vals, w.dn[d].key)
		delete(w.vals, w.dn[d].key)
	}
	w.nd--
	u.logDn(&w.dn[d])
	w.dn[d] = dnode{prev: -1, next: w.free}
	w.free = d
}

func (w *window) clone() window {
	c := window{qwin: qwin{n: w.n, sum: w.sum}, dwin: dwin{nd: w.nd, head: w.head, tail: w.tail, free: w.free}}
	if l := w.live(); len(l) > 0 {
		c.q = append([]entry(nil), l...)
	}
	if w.vals != nil {
		c.vals = maps.Clone(w.vals)
	}
	c.dn = slices.Clone(w.dn)
	return c
}

func (w *window) footprint() int {
	n := 32*cap(w.q) + 96 + 48*cap(w.dn)
	for d := w.head; d >= 0; d = w.dn[d].next {
		n += 32 + w.dn[d].key.size()
	}
	return n
}
