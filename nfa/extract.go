package nfa

import "github.com/cepd/cepd/event"

// firstPath is paths(n, ver, 1)[0] without allocating: the same depth-first walk, with the
// path kept in a buffer indexed by depth (an entry popped at depth d finds its ancestors
// in buf[:d]: everything popped since it was pushed lies deeper). The result, oldest event
// first, is scratch memory valid until the next call; nil when no path exists.
func (sc *Scratch) firstPath(n *node, ver dewey) []*node {
	if n == nil {
		return nil
	}
	stack := append(sc.fpStack[:0], fpEntry{n: n, ver: ver})
	buf := sc.fpBuf[:0]
	var out []*node
	for len(stack) > 0 {
		st := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		buf = buf[:st.depth]
		if st.n == nil {
			out = append(sc.fpOut[:0], buf...)
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
			sc.fpOut = out
			break
		}
		buf = append(buf, st.n)
		for i := 0; i < st.n.numEdges(); i++ {
			e := st.n.edge(i)
			if st.ver.compatible(e.ver) {
				stack = append(stack, fpEntry{n: e.prev, ver: e.ver, depth: len(buf)})
			}
		}
	}
	clear(stack[:cap(stack)])
	sc.fpStack, sc.fpBuf = stack[:0], buf[:0]
	return out
}

type fpEntry struct {
	n     *node
	ver   dewey
	depth int
}

// loadSteps fills byStep (indexed by step) with the events of the run's first path.
func (c *EvalContext) loadSteps() {
	for i := range c.byStep {
		clear(c.byStep[i])
		c.byStep[i] = c.byStep[i][:0]
	}
	if c.run == nil || c.run.node == nil || c.m == nil {
		return
	}
	if n := len(c.m.prog.steps); len(c.byStep) < n {
		c.byStep = append(c.byStep, make([][]*event.Event, n-len(c.byStep))...)
	}
	for _, n := range c.sc.firstPath(c.run.node, c.run.ver) {
		c.byStep[n.step] = append(c.byStep[n.step], n.ev)
	}
}
