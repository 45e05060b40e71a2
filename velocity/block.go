package velocity

// NewBlock makes an empty aggregate for each of specs, as New does, and puts them in out
// (of the same length). Up to 4 aggregates not by a field are made in one
// allocation with the first entry of each Count, Sum, Avg, Min or Max window and the first
// value's node of each Distinct one (their arrays until they hold more: most windows of
// most keys hold one); aggregates by a field in one allocation with their groups'
// headers; otherwise an allocation for each of those parts. Aggregates made together (a
// key's, which its events mostly reach together) sit together, and the collector has one
// object to visit instead of several each. Each is used, recycled (Recycle) and dropped
// on its own, as one from New; their memory goes when none of them is reachable.
func NewBlock(specs []Spec, out []*Agg) {
	nby, nq, nd := 0, 0, 0
	for _, s := range specs {
		switch {
		case s.By:
			nby++
		case s.Func == Distinct:
			nd++
		default:
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
	aggs, dns, ents := newBlockArrays(nq, nd)
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
		if s.Func == Distinct {
			a.w.dn, dns = dns[:0:1], dns[1:]
		} else {
			a.w.q, ents = ents[:0:1], ents[1:]
		}
		out[i] = a
	}
}

// newBlockArrays returns m+d aggregates, m entries and d values' nodes, zero, in one
// allocation when m+d ≤ 4.
func newBlockArrays(m, d int) ([]Agg, []dnode, []entry) {
	switch m<<4 | d {
	case 0<<4 | 1:
		return blockIn[aggs1, dns1, ents0]()
	case 1<<4 | 0:
		return blockIn[aggs1, dns0, ents1]()
	case 0<<4 | 2:
		return blockIn[aggs2, dns2, ents0]()
	case 1<<4 | 1:
		return blockIn[aggs2, dns1, ents1]()
	case 2<<4 | 0:
		return blockIn[aggs2, dns0, ents2]()
	case 0<<4 | 3:
		return blockIn[aggs3, dns3, ents0]()
	case 1<<4 | 2:
		return blockIn[aggs3, dns2, ents1]()
	case 2<<4 | 1:
		return blockIn[aggs3, dns1, ents2]()
	case 3<<4 | 0:
		return blockIn[aggs3, dns0, ents3]()
	case 0<<4 | 4:
		return blockIn[aggs4, dns4, ents0]()
	case 1<<4 | 3:
		return blockIn[aggs4, dns3, ents1]()
	case 2<<4 | 2:
		return blockIn[aggs4, dns2, ents2]()
	case 3<<4 | 1:
		return blockIn[aggs4, dns1, ents3]()
	case 4<<4 | 0:
		return blockIn[aggs4, dns0, ents4]()
	}
	return make([]Agg, m+d), make([]dnode, d), make([]entry, m)
}

// block is aggregates A, values' nodes D and entries E in one allocation, the entries (no
// pointer) last: the collector scans no further than the nodes.
type block[A, D, E any] struct {
	a A
	d D
	e E
}

// Arrays of aggregates, nodes and entries for block, by size.
type (
	aggs1 [1]Agg
	aggs2 [2]Agg
	aggs3 [3]Agg
	aggs4 [4]Agg
	dns0  [0]dnode
	dns1  [1]dnode
	dns2  [2]dnode
	dns3  [3]dnode
	dns4  [4]dnode
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
func (d *dns0) room() []dnode  { return d[:] }
func (d *dns1) room() []dnode  { return d[:] }
func (d *dns2) room() []dnode  { return d[:] }
func (d *dns3) room() []dnode  { return d[:] }
func (d *dns4) room() []dnode  { return d[:] }
func (e *ents0) room() []entry { return e[:] }
func (e *ents1) room() []entry { return e[:] }
func (e *ents2) room() []entry { return e[:] }
func (e *ents3) room() []entry { return e[:] }
func (e *ents4) room() []entry { return e[:] }

// blockIn allocates a block of aggregates A, nodes D and entries E and returns them.
func blockIn[A, D, E any, PA interface {
	*A
	room() []Agg
}, PD interface {
	*D
	room() []dnode
}, PE interface {
	*E
	room() []entry
}]() ([]Agg, []dnode, []entry) {
	b := new(block[A, D, E])
	return PA(&b.a).room(), PD(&b.d).room(), PE(&b.e).room()
}
