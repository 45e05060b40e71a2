package velocity

// NewBlock makes an empty aggregate for each of specs, as New does, and puts them in out
// (of the same length). Up to 4 aggregates not by a field are made in one allocation with
// the first entry of each Count, Sum, Avg, Min or Max window (its array until it holds
// more: most windows of most keys hold one event; entries hold no pointer and come last,
// so the collector does not scan them); aggregates by a field in one allocation with
// their groups' headers; otherwise an allocation for each of those parts. Aggregates made
// together (a key's, which its events mostly reach together) sit together, and the
// collector has one object to visit instead of several each. Each is used, recycled
// (Recycle) and dropped on its own, as one from New; their memory goes when none of them
// is reachable.
func NewBlock(specs []Spec, out []*Agg) {
	nby, nq := 0, 0
	for _, s := range specs {
		switch {
		case s.By:
			nby++
		case s.Func != Distinct:
			nq++
		}
	}
	if nby == len(specs) {
		b := make([]byAgg, len(specs))
		for i := range b {
			b[i].init(specs[i])
			out[i] = &b[i].a
		}
		return
	}
	aggs, ents := newBlockArrays(len(specs)-nby, nq)
	var bys []byAgg
	if nby > 0 {
		bys = make([]byAgg, nby)
	}
	for i, s := range specs {
		if s.By {
			bys[0].init(s)
			out[i], bys = &bys[0].a, bys[1:]
			continue
		}
		a := &aggs[0]
		aggs = aggs[1:]
		a.init(s, nil)
		if s.Func != Distinct {
			a.w.q, ents = ents[:0:1], ents[1:]
		}
		out[i] = a
	}
}

// newBlockArrays returns n aggregates and m ≤ n entries, zero, in one allocation when
// n ≤ 4.
func newBlockArrays(n, m int) ([]Agg, []entry) {
	switch [2]int{n, m} {
	case [2]int{1, 0}:
		return blockIn[aggs1, ents0]()
	case [2]int{1, 1}:
		return blockIn[aggs1, ents1]()
	case [2]int{2, 0}:
		return blockIn[aggs2, ents0]()
	case [2]int{2, 1}:
		return blockIn[aggs2, ents1]()
	case [2]int{2, 2}:
		return blockIn[aggs2, ents2]()
	case [2]int{3, 0}:
		return blockIn[aggs3, ents0]()
	case [2]int{3, 1}:
		return blockIn[aggs3, ents1]()
	case [2]int{3, 2}:
		return blockIn[aggs3, ents2]()
	case [2]int{3, 3}:
		return blockIn[aggs3, ents3]()
	case [2]int{4, 0}:
		return blockIn[aggs4, ents0]()
	case [2]int{4, 1}:
		return blockIn[aggs4, ents1]()
	case [2]int{4, 2}:
		return blockIn[aggs4, ents2]()
	case [2]int{4, 3}:
		return blockIn[aggs4, ents3]()
	case [2]int{4, 4}:
		return blockIn[aggs4, ents4]()
	}
	return make([]Agg, n), make([]entry, m)
}

// block is aggregates A and entries E in one allocation, the entries (no pointer) last:
// the collector scans no further than the aggregates.
type block[A, E any] struct {
	a A
	e E
}

// Arrays of aggregates and entries for block, by size.
type (
	aggs1 [1]Agg
	aggs2 [2]Agg
	aggs3 [3]Agg
	aggs4 [4]Agg
	ents0 [0]entry
	ents1 [1]entry
	ents2 [2]entry
	ents3 [3]entry
	ents4 [4]entry
)

func (a *aggs1) room() []Agg   { return a[:] }
func (a *aggs2) room() []Agg   { return a[:] }
func (a *aggs3) room() []Agg   { return a[:] }
func (a *aggs4) room() []Agg   { return a[:] }
func (e *ents0) room() []entry { return e[:] }
func (e *ents1) room() []entry { return e[:] }
func (e *ents2) room() []entry { return e[:] }
func (e *ents3) room() []entry { return e[:] }
func (e *ents4) room() []entry { return e[:] }

// blockIn allocates a block of aggregates A and entries E and returns them.
func blockIn[A, E any, PA interface {
	*A
	room() []Agg
}, PE interface {
	*E
	room() []entry
}]() ([]Agg, []entry) {
	b := new(block[A, E])
	return PA(&b.a).room(), PE(&b.e).room()
}
