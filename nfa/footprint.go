package nfa

import (
	"math"
	"unsafe"
)

// Footprint is an accounting of the memory a matcher holds.
type Footprint struct {
	Bytes  int // matcher, runs, shared-buffer nodes, edges and versions
	Nodes  int // shared-buffer entries reachable from live runs
	Events int // distinct events those entries point to (their memory is not in Bytes)
	Edges  int // edges of those entries
	Digits int // Dewey digits of the live runs' versions and of those edges' versions
}

// Footprint walks the matcher's runs and the shared-buffer entries they reach. It
// allocates and is meant for statistics and tests, not for the per-event path.
func (m *Matcher) Footprint() Footprint {
	const (
		runSize  = int(unsafe.Sizeof(run{}))
		nodeSize = int(unsafe.Sizeof(node{}))
		edgeSize = int(unsafe.Sizeof(bufEdge{}))
		moreSize = int(unsafe.Sizeof([]bufEdge(nil))) // node.more's slice header
	)
	f := Footprint{Bytes: int(unsafe.Sizeof(Matcher{})) + (cap(m.partial)+cap(m.held()))*runSize}
	seen := map[*node]bool{}
	evs := map[any]bool{}
	var stack []*node
	visit := func(rs runHeap) {
		for i := range rs {
			f.Bytes += len(rs[i].ver)
			f.Digits += rs[i].ver.n()
			if n := rs[i].node; n != nil && !seen[n] {
				seen[n] = true
				stack = append(stack, n)
			}
		}
	}
	visit(m.partial)
	visit(m.held())
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		f.Nodes++
		evs[n.ev] = true
		f.Bytes += nodeSize
		if n.more != nil {
			f.Bytes += moreSize + cap(*n.more)*edgeSize // the slice's header and array
		}
		f.Edges += n.numEdges()
		for i := 0; i < n.numEdges(); i++ {
			e := n.edge(i)
			f.Bytes += len(e.ver)
			f.Digits += e.ver.n()
			if e.prev != nil && !seen[e.prev] {
				seen[e.prev] = true
				stack = append(stack, e.prev)
			}
		}
	}
	f.Events = len(evs)
	return f
}

// OldestOffset returns the smallest source offset among the events the matcher holds
// (math.MaxInt64 when it holds none).
func (m *Matcher) OldestOffset() int64 {
	oldest := int64(math.MaxInt64)
	seen := map[*node]bool{}
	var stack []*node
	push := func(n *node) {
		if n != nil && !seen[n] {
			seen[n] = true
			stack = append(stack, n)
		}
	}
	for _, h := range []runHeap{m.partial, m.held()} {
		for i := range h {
			push(h[i].node)
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		oldest = min(oldest, n.ev.Offset)
		for i := 0; i < n.numEdges(); i++ {
			push(n.edge(i).prev)
		}
	}
	return oldest
}
