package state

import (
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// The matcher snapshot part of the key state format (see encode.go for the layout).

// eventTime is the time a run's timestamps are coded against: the referenced event's, or
// -1 (the start run's StartTs and PrevTs) when there is none.
func eventTime(events []*event.Event, i int64) int64 {
	if i >= 0 && i < int64(len(events)) && events[i] != nil {
		return events[i].Time
	}
	return -1
}

func (e *encoder) snapshot(s *nfa.Snapshot) {
	events := e.ks.Events
	e.uvarint(uint64(len(s.Nodes)))
	prevEv := int64(0)
	for i, n := range s.Nodes {
		e.zigzag(int64(n.Event) - prevEv)
		prevEv = int64(n.Event)
		e.zigzag(int64(n.Step))
		e.uvarint(uint64(len(n.Edges)))
		for _, ed := range n.Edges {
			if ed.Prev == -1 {
				e.uvarint(0)
			} else {
				e.uvarint(zz(int64(i)-int64(ed.Prev)-1) + 1)
			}
			e.version(ed.Version, relatedEdges(s.Nodes, ed.Prev))
		}
	}
	for _, runs := range [2][]nfa.RunSnapshot{s.Partial, s.Completed} {
		e.uvarint(uint64(len(runs)))
		for _, r := range runs {
			e.zigzag(int64(r.State))
			e.zigzag(int64(r.Node) + 1)
			e.version(r.Version, relatedEdges(s.Nodes, r.Node))
			e.zigzag(int64(r.StartEv) + 1)
			e.zigzag(r.StartTs - eventTime(events, int64(r.StartEv)))
			prevBase := int64(-1)
			if r.Node >= 0 && int(r.Node) < len(s.Nodes) {
				prevBase = eventTime(events, int64(s.Nodes[r.Node].Event))
			}
			e.zigzag(r.PrevTs - prevBase)
		}
	}
}

func zz(x int64) uint64 { return uint64(x<<1) ^ uint64(x>>63) }

// maxRelated bounds how many of a related node's edge versions a version may be coded
// against.
const maxRelated = 64

// relatedEdges returns the edges of node n, whose versions a version of an edge pointing
// to n, or of a run at n, usually extends (nil when n is not a node).
func relatedEdges(nodes []nfa.NodeSnapshot, n int32) []nfa.EdgeSnapshot {
	if n < 0 || int(n) >= len(nodes) {
		return nil
	}
	ed := nodes[n].Edges
	return ed[:min(len(ed), maxRelated)]
}

// version writes the Dewey number v coded against a reference: the previous version
// written (c = 0) or the version of related edge c-1, whichever shares the longest
// prefix with v. With nc candidates, p shared digits and rest more digits, it writes
// uvarint ((rest·(len(ref)+1) + p)·nc + c), then the rest digits (the first as a delta
// from the reference's digit at p, if any).
func (e *encoder) version(v []int32, related []nfa.EdgeSnapshot) {
	ref, c, p := e.prevVer, 0, commonPrefix(v, e.prevVer)
	for k := range related {
		if q := commonPrefix(v, related[k].Version); q > p {
			ref, c, p = related[k].Version, k+1, q
		}
	}
	nc := uint64(len(related) + 1)
	rest := len(v) - p
	e.uvarint((uint64(rest)*uint64(len(ref)+1)+uint64(p))*nc + uint64(c))
	for j := p; j < len(v); j++ {
		if j == p && p < len(ref) {
			e.zigzag(int64(v[j]) - int64(ref[p]))
		} else {
			e.zigzag(int64(v[j]))
		}
	}
	e.prevVer = v
}

func commonPrefix(a, b []int32) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func (d *decoder) snapshot() *nfa.Snapshot {
	s := &nfa.Snapshot{}
	nEvents := int64(len(d.ks.Events))
	if s.Nodes = d.nodes(nEvents); d.err != nil {
		return nil
	}
	for k := range 2 {
		runs := d.runs(s.Nodes, nEvents)
		if d.err != nil {
			return nil
		}
		if k == 0 {
			s.Partial = runs
		} else {
			s.Completed = runs
		}
	}
	return s
}

// nodes reads the shared-buffer entries of a snapshot, over nEvents kept events.
func (d *decoder) nodes(nEvents int64) []nfa.NodeSnapshot {
	n := d.count("node", maxEvents, 3)
	if n == 0 {
		return nil
	}
	nodes := make([]nfa.NodeSnapshot, n)
	prevEv := int64(0)
	for i := range nodes {
		ns := &nodes[i]
		x := prevEv + d.zigzag()
		if d.err == nil && (x < 0 || x >= nEvents) {
			d.fail("node %d: event %d out of range", i, x)
		}
		ns.Event, prevEv = int32(x), x
		ns.Step = d.int32v("step", d.zigzag())
		if ne := d.count("edge", maxEvents, 2); ne > 0 {
			ns.Edges = make([]nfa.EdgeSnapshot, ne)
			for j := range ns.Edges {
				c := d.uvarint()
				prev := int64(-1)
				if c != 0 {
					c--
					prev = int64(i) - 1 - (int64(c>>1) ^ -int64(c&1))
					if d.err == nil && (prev < 0 || prev >= int64(i)) {
						d.fail("node %d: predecessor %d is not an earlier node", i, prev)
					}
				}
				var related []nfa.EdgeSnapshot
				if d.err == nil {
					related = relatedEdges(nodes, int32(prev))
				}
				ns.Edges[j] = nfa.EdgeSnapshot{Prev: int32(prev), Version: d.version(related)}
			}
		}
		if d.err != nil {
			return nil
		}
	}
	return nodes
}

// runs reads one list of runs (partial or completed) over nodes and nEvents kept events.
func (d *decoder) runs(nodes []nfa.NodeSnapshot, nEvents int64) []nfa.RunSnapshot {
	n := d.count("run", maxEvents, 6)
	if n == 0 {
		return nil
	}
	runs := make([]nfa.RunSnapshot, n)
	for i := range runs {
		r := &runs[i]
		r.State = d.int32v("state", d.zigzag())
		node := d.zigzag() - 1
		if d.err == nil && (node < -1 || node >= int64(len(nodes))) {
			d.fail("run %d: node %d out of range", i, node)
		}
		r.Node = int32(node)
		if d.err != nil {
			return nil
		}
		r.Version = d.version(relatedEdges(nodes, r.Node))
		startEv := d.zigzag() - 1
		if d.err == nil && (startEv < -1 || startEv >= nEvents) {
			d.fail("run %d: start event %d out of range", i, startEv)
		}
		r.StartEv = int32(startEv)
		if d.err != nil {
			return nil
		}
		r.StartTs = d.zigzag() + eventTime(d.ks.Events, startEv)
		prevBase := int64(-1)
		if node >= 0 {
			prevBase = eventTime(d.ks.Events, int64(nodes[node].Event))
		}
		r.PrevTs = d.zigzag() + prevBase
	}
	return runs
}

// version reads a Dewey number written by encoder.version.
func (d *decoder) version(related []nfa.EdgeSnapshot) []int32 {
	h := d.uvarint()
	if d.err != nil {
		return nil
	}
	nc := uint64(len(related) + 1)
	ref := d.prev
	if c := h % nc; c > 0 {
		ref = related[c-1].Version
	}
	h /= nc
	l := uint64(len(ref)) + 1
	p, rest := int(h%l), h/l
	if rest > maxVersionLen || rest > uint64(d.left()) || uint64(p)+rest > maxVersionLen {
		d.fail("version of %d+%d digits exceeds the limit or the data left", p, rest)
		return nil
	}
	n := p + int(rest)
	if n == 0 {
		d.prev = nil
		return nil
	}
	if d.digits -= n; d.digits < 0 {
		d.fail("versions hold more Dewey digits than a blob of this size may")
		return nil
	}
	v := make([]int32, n)
	copy(v, ref[:p])
	for j := p; j < n; j++ {
		x := d.zigzag()
		if j == p && p < len(ref) {
			x += int64(ref[p])
		}
		v[j] = d.int32v("version digit", x)
	}
	if d.err != nil {
		return nil
	}
	d.prev = v
	return v
}
