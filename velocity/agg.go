package velocity

import (
	"math"
	"strconv"
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
	Func   Func
	Window int64
	By     bool
}

// Key is a comparable value: a group (the value of by) or a value counted by Distinct.
// Kind tells values of different types apart; S holds strings, N the bits of others.
type Key struct {
	S    string
	N    uint64
	Kind uint8
}

// Agg is one aggregate of one key. The zero value is not usable: use New.
type Agg struct {
	spec   Spec
	last   int64 // newest time added (math.MinInt64: none)
	w      window
	groups map[Key]*group
	glist  groupList
}

// group is the window of one value of by, in the list of groups by last event.
type group struct {
	key        Key
	last       int64
	w          window
	prev, next *group
}

// New returns an empty aggregate.
func New(spec Spec) *Agg {
	a := &Agg{spec: spec, last: math.MinInt64}
	return a
}

// Spec returns what the aggregate computes.
func (a *Agg) Spec() Spec { return a.spec }

// Add counts one event at time t: num is its field's value (Sum, Avg, Min, Max) and val
// its value as a Key (Distinct); by its group (ignored without Spec.By). Times must not
// go back.
func (a *Agg) Add(t int64, by Key, num float64, val Key) {
	a.last = max(a.last, t)
	if !a.spec.By {
		a.w.add(a.spec, t, num, val)
		return
	}
	a.dropGroups(t)
	g := a.groups[by]
	if g == nil {
		if a.groups == nil {
			a.groups = make(map[Key]*group)
		}
		if len(a.groups) >= MaxGroups {
			old := a.glist.head
			a.glist.remove(old)
			delete(a.groups, old.key)
		}
		g = &group{key: by}
		a.groups[by] = g
	} else {
		a.glist.remove(g)
	}
	a.glist.pushBack(g)
	g.last = t
	g.w.add(a.spec, t, num, val)
}

// Value returns the aggregate at time t for the group by (ignored without Spec.By): a
// count or distinct count as a whole number, and ok false when the function has no value
// for an empty window (Avg, Min, Max). Reading moves the group's window to t.
func (a *Agg) Value(t int64, by Key) (float64, bool) {
	w := &a.w
	if a.spec.By {
		a.dropGroups(t)
		g := a.groups[by]
		if g == nil {
			return empty(a.spec.Func)
		}
		w = &g.w
	}
	w.expire(a.spec, t)
	return w.value(a.spec.Func)
}

func empty(f Func) (float64, bool) {
	switch f {
	case Count, Sum, Distinct:
		return 0, true
	}
	return 0, false
}

// dropGroups removes the groups whose every event the window has passed at t.
func (a *Agg) dropGroups(t int64) {
	for g := a.glist.head; g != nil && t-g.last >= a.spec.Window; g = a.glist.head {
		a.glist.remove(g)
		delete(a.groups, g.key)
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
	a.last = math.MinInt64
	a.w = window{}
	a.groups, a.glist = nil, groupList{}
	return true
}

// Clone returns an independent copy.
func (a *Agg) Clone() *Agg {
	c := &Agg{spec: a.spec, last: a.last, w: a.w.clone()}
	if a.groups != nil {
		c.groups = make(map[Key]*group, len(a.groups))
		for g := a.glist.head; g != nil; g = g.next {
			cg := &group{key: g.key, last: g.last, w: g.w.clone()}
			c.groups[g.key] = cg
			c.glist.pushBack(cg)
		}
	}
	return c
}

// Footprint estimates the bytes the aggregate holds (entries, values, groups).
func (a *Agg) Footprint() int {
	n := 64 + a.w.footprint()
	for g := a.glist.head; g != nil; g = g.next {
		n += 96 + len(g.key.S) + g.w.footprint()
	}
	return n
}

// groupList lists groups by last event, oldest first.
type groupList struct{ head, tail *group }

func (l *groupList) pushBack(g *group) {
	g.prev, g.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = g
	} else {
		l.head = g
	}
	l.tail = g
}

func (l *groupList) remove(g *group) {
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		l.head = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		l.tail = g.prev
	}
	g.prev, g.next = nil, nil
}

var funcNames = [...]string{Count: "count", Sum: "sum", Avg: "avg", Min: "min", Max: "max", Distinct: "distinct"}

func (f Func) String() string {
	if int(f) < len(funcNames) && funcNames[f] != "" {
		return funcNames[f]
	}
	return "Func(" + strconv.Itoa(int(f)) + ")"
}
