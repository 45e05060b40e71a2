package velocity

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// Func is what an aggregate computes.
type Func uint8

// Functions.
const (
	Count Func = iota + 1
	Sum
	Avg
	Min
	Max
	Distinct
)

// Limits that bound a key's memory (see the package documentation).
const (
	ExactEntries = 64   // entries a window keeps one per event before it buckets
	Resolution   = 64   // a bucket spans at most Window/Resolution
	MaxDistinct  = 1024 // values a distinct count keeps per window
	MaxGroups    = 256  // groups an aggregate by a field keeps per key
)

// Spec says what an aggregate computes: its function, its window in the unit of the
// times given to Add (the engine uses milliseconds), and whether it is per group.
type Spec struct {
	Window int64
	Func   Func
	By     bool
}

// Agg is one aggregate of one key. The zero value is not usable: use New.
//
// Its fields are in the order an event reads them (spec, last, the log, then the window
// header: a Count, Sum, Avg, Min or Max window's part first), so that adding to a key's
// cold aggregate touches as few cache lines as may be; the last pointer is the window's
// (the collector scans no further).
type Agg struct {
	spec   Spec
	last   int64  // newest time added (math.MinInt64: none)
	u      *Undo  // the log its changes go to (nil: none); see Log
	useg   uint64 // the log's segment its header was last logged in
	*byHdr        // with Spec.By only (nil without: most aggregates, which it would make 48 bytes larger)
	w      window // without Spec.By (with it, each group has its own)
}

// byHdr is the part of an aggregate's header that only an aggregate by a field uses.
type byHdr struct {
	groups map[Key]int32 // index into gs; nil while there are at most smallIndex groups
	ng     int32         // groups held
	gs     []group
	glist  groupList
}

// group is the window of one value of by, in the list of groups by last event (indexes
// into Agg.gs; -1 is none).
type group struct {
	key        Key
	last       int64
	w          window
	prev, next int32
}

// New returns an empty aggregate.
func New(spec Spec) *Agg {
	if spec.By { // with its groups' header: one allocation
		x := new(byAgg)
		x.init(spec)
		return &x.a
	}
	a := new(Agg)
	a.init(spec, nil)
	return a
}

// byAgg is an aggregate by a field with its groups' header.
type byAgg struct {
	a Agg
	h byHdr
}

// init makes x, zero, an empty aggregate for spec (Spec.By).
func (x *byAgg) init(spec Spec) { x.a.init(spec, &x.h) }

// init makes a, zero, an empty aggregate for spec, with h as its groups' header
// (Spec.By; else nil).
func (a *Agg) init(spec Spec, h *byHdr) {
	a.spec, a.last, a.w = spec, math.MinInt64, newWindow()
	if h != nil {
		*h = byHdr{glist: newGroupList()}
		a.byHdr = h
	}
}

// Recycle empties a, which nothing else refers to any more, for reuse as New(a.Spec())
// would make it, and reports whether it may be reused: not while it is attached to a
// log (Log), whose records may restore it. The arrays of its window, values and groups
// are kept, emptied (their strings dropped), when they take at most keep bytes
// together; its maps go.
func (a *Agg) Recycle(keep int) bool {
	if a.u != nil {
		return false
	}
	a.last, a.useg = math.MinInt64, 0
	f := a.spec.Func
	if a.byHdr == nil { // (only the part of the window f uses is read: see empty)
		a.w.empty(f, a.w.room(f) <= keep)
		return true
	}
	// An aggregate by a field uses no window of its own (a.w stays as new): its groups'.
	gs := a.gs[:cap(a.gs)] // every group slot, up to the capacity
	n := len(gs) * int(unsafe.Sizeof(group{}))
	for i := range gs {
		n += gs[i].w.room(f)
	}
	if n > keep {
		gs = nil
	}
	for i := range gs {
		// its window's room, for the group alloc puts there (which reads only q and dn)
		w := newWindow()
		w.q, w.dn = gs[i].w.q, gs[i].w.dn
		w.empty(f, true)
		gs[i] = group{w: w}
	}
	*a.byHdr = byHdr{gs: gs[:0], glist: newGroupList()}
	return true
}

// Spec returns what the aggregate computes.
func (a *Agg) Spec() Spec { return a.spec }

// Add counts one event at time t: num is its field's value (Sum, Avg, Min, Max) and val
// its value as a Key (Distinct); by its group (ignored without Spec.By). Times must not
// go back.
func (a *Agg) Add(t int64, by Key, num float64, val Key) {
	a.add(t, by, num, val)
}

// AddValue adds as Add does and returns what Value(t, by) then returns, without looking
// again: the window Add took the event into (by's) is at t, and nothing else of the
// aggregate is read.
func (a *Agg) AddValue(t int64, by Key, num float64, val Key) (float64, bool) {
	w := a.add(t, by, num, val)
	if a.spec.Window <= 0 { // (an event leaves such a window at once: Value moves it)
		return a.Value(t, by)
	}
	return w.value(a.spec.Func)
}

// add is Add, returning the window that took the event.
func (a *Agg) add(t int64, by Key, num float64, val Key) *window {
	a.touch()
	a.last = max(a.last, t)
	if !a.spec.By {
		a.w.add(a.spec, t, num, val, a.u)
		return &a.w
	}
	a.dropGroups(t)
	by = by.inline()
	gi, ok := a.findGroup(by)
	if !ok {
		if a.ng >= MaxGroups {
			a.dropGroup(a.glist.head)
		}
		by.S = strings.Clone(by.S) // not the event's whole values slab (package event)
		gi = a.glist.alloc(&a.gs, by, a.u)
		a.indexGroup(by, gi)
	} else {
		a.glist.remove(a.gs, gi, a.u)
	}
	a.glist.pushBack(a.gs, gi, a.u)
	g := &a.gs[gi]
	a.u.logGrpW(g)
	g.last = t
	g.w.add(a.spec, t, num, val, a.u)
	return &g.w
}

// findGroup returns the group of key k (in its kept form, Key.inline).
func (a *Agg) findGroup(k Key) (int32, bool) {
	if a.groups != nil {
		gi, ok := a.groups[k]
		return gi, ok
	}
	for g := a.glist.head; g >= 0; g = a.gs[g].next {
		if a.gs[g].key == k {
			return g, true
		}
	}
	return -1, false
}

// indexGroup counts group gi (not yet listed) as key k's, building the map when the
// groups outgrow a scan.
func (a *Agg) indexGroup(k Key, gi int32) {
	a.ng++
	switch {
	case a.groups != nil:
		a.u.logMap(a.groups, k)
		a.groups[k] = gi
	case a.ng > smallIndex:
		a.groups = make(map[Key]int32, a.ng)
		for g := a.glist.head; g >= 0; g = a.gs[g].next {
			a.groups[a.gs[g].key] = g
		}
		a.groups[k] = gi
	}
}

// dropGroup forgets group gi.
func (a *Agg) dropGroup(gi int32) {
	a.glist.remove(a.gs, gi, a.u)
	if a.groups != nil {
		a.u.logMap(a.groups, a.gs[gi].key)
		delete(a.groups, a.gs[gi].key)
	}
	a.ng--
	a.u.logGrp(&a.gs[gi])
	a.gs[gi] = group{prev: -1, next: a.glist.free}
	a.glist.free = gi
}

// Value returns the aggregate at time t for the group by (ignored without Spec.By): a
// count or distinct count as a whole number, and ok false when the function has no value
// for an empty window (Avg, Min, Max). Reading moves the group's window to t.
func (a *Agg) Value(t int64, by Key) (float64, bool) {
	if a.spec.By {
		by = by.inline()
	}
	if a.u != nil && !a.Stale(t, by) {
		// attached, and nothing leaves the window: read without a change to log
		w := &a.w
		if a.spec.By {
			gi, ok := a.findGroup(by)
			if !ok {
				return empty(a.spec.Func)
			}
			w = &a.gs[gi].w
		}
		return w.value(a.spec.Func)
	}
	a.touch() // (attached: at most once a segment, and Add has mostly done it)
	w := &a.w
	if a.spec.By {
		a.dropGroups(t)
		gi, ok := a.findGroup(by)
		if !ok {
			return empty(a.spec.Func)
		}
		w = &a.gs[gi].w
		a.u.logGrpW(&a.gs[gi]) // (the group Add logged last, mostly)
	}
	w.expire(a.spec, t, a.u)
	return w.value(a.spec.Func)
}

func empty(f Func) (float64, bool) {
	switch f {
	case Count, Sum, Distinct:
		return 0, true
	}
	return 0, false
}

// Stale reports whether Value(t, by) would change the aggregate (something left its
// window).
func (a *Agg) Stale(t int64, by Key) bool {
	if !a.spec.By {
		return a.w.stale(a.spec, t)
	}
	if h := a.glist.head; h >= 0 && t-a.gs[h].last >= a.spec.Window {
		return true
	}
	gi, ok := a.findGroup(by.inline())
	return ok && a.gs[gi].w.stale(a.spec, t)
}

// dropGroups removes the groups whose every event the window has passed at t.
func (a *Agg) dropGroups(t int64) {
	for g := a.glist.head; g >= 0 && t-a.gs[g].last >= a.spec.Window; g = a.glist.head {
		a.dropGroup(g)
	}
}

// EmptyAt is the time from which the aggregate holds nothing (math.MinInt64 when it is
// empty already): the newest event's time plus the window.
func (a *Agg) EmptyAt() int64 {
	if a.last == math.MinInt64 {
		return math.MinInt64
	}
	if a.last > math.MaxInt64-a.spec.Window {
		return math.MaxInt64
	}
	return a.last + a.spec.Window
}

// Expire frees everything when the window has passed the newest event at t; it reports
// whether the aggregate is empty.
func (a *Agg) Expire(t int64) bool {
	if a.last == math.MinInt64 {
		return true
	}
	if t < a.EmptyAt() {
		return false
	}
	a.touch()
	a.last = math.MinInt64
	a.w = newWindow()
	if a.byHdr != nil {
		*a.byHdr = byHdr{glist: newGroupList()}
	}
	return true
}

// Clone returns an independent copy.
func (a *Agg) Clone() *Agg {
	c := &Agg{spec: a.spec, last: a.last, w: a.w.clone()}
	if a.byHdr == nil {
		return c
	}
	c.byHdr = &byHdr{ng: a.ng, glist: a.glist}
	if a.groups != nil {
		c.groups = maps.Clone(a.groups)
	}
	if a.gs != nil {
		c.gs = slices.Clone(a.gs)
		for g := a.glist.head; g >= 0; g = a.gs[g].next {
			c.gs[g].w = a.gs[g].w.clone()
		}
	}
	return c
}

// Footprint estimates the bytes the aggregate holds (entries, values, groups).
func (a *Agg) Footprint() int {
	n := 64 + a.w.footprint()
	if a.byHdr == nil {
		return n
	}
	n += 96 * cap(a.gs)
	for g := a.glist.head; g >= 0; g = a.gs[g].next {
		n += a.gs[g].key.size() + a.gs[g].w.footprint()
	}
	return n
}

// groupList lists groups by last event, oldest first, by index; free is the first
// unused slot of Agg.gs.
type groupList struct{ head, tail, free int32 }

func newGroupList() groupList { return groupList{head: -1, tail: -1, free: -1} }

func (l *groupList) alloc(gs *[]group, key Key, u *Undo) int32 {
	g := group{key: key, w: newWindow(), prev: -1, next: -1}
	if l.free >= 0 {
		i := l.free
		l.free = (*gs)[i].next
		u.logGrp(&(*gs)[i])
		(*gs)[i] = g
		return i
	}
	if n := len(*gs); n < cap(*gs) {
		slot := &(*gs)[:n+1][n]
		u.logGrp(slot) // a slot an older length may have shown
		// An empty window's room a recycled aggregate left there (Recycle; a slot is
		// otherwise zero past the length, or logged as it was).
		g.w.q, g.w.dn = slot.w.q[:0], slot.w.dn[:0]
	}
	*gs = append(*gs, g)
	return int32(len(*gs) - 1)
}

func (l *groupList) pushBack(gs []group, i int32, u *Undo) {
	u.logLink(&gs[i])
	gs[i].prev, gs[i].next = l.tail, -1
	if l.tail >= 0 {
		u.logLink(&gs[l.tail])
		gs[l.tail].next = i
	} else {
		l.head = i
	}
	l.tail = i
}

func (l *groupList) remove(gs []group, i int32, u *Undo) {
	g := &gs[i]
	if g.prev >= 0 {
		u.logLink(&gs[g.prev])
		gs[g.prev].next = g.next
	} else {
		l.head = g.next
	}
	if g.next >= 0 {
		u.logLink(&gs[g.next])
		gs[g.next].prev = g.prev
	} else {
		l.tail = g.prev
	}
	u.logLink(g)
	g.prev, g.next = -1, -1
}

var funcNames = [...]string{Count: "count", Sum: "sum", Avg: "avg", Min: "min", Max: "max", Distinct: "distinct"}

func (f Func) String() string {
	if int(f) < len(funcNames) && funcNames[f] != "" {
		return funcNames[f]
	}
	return "Func(" + strconv.Itoa(int(f)) + ")"
}
