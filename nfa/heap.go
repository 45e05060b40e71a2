package nfa

// runHeap is a binary min-heap of runs ordered by their first event, with exactly the
// layout rules of java.util.PriorityQueue (offer, poll, bulk removal then heapify).
// Flink keeps partial and completed matches in such queues and iterates them in array
// order, and which of two matches that complete on the same event is emitted first (and
// so which survives an after-match skip) depends on that layout. Mirroring it makes
// cepd's matches identical to Flink's, ties included.
type runHeap []run

// cmpRuns orders runs by their first event (event time, then arrival); runs that have
// taken nothing (the start state) sort last.
func cmpRuns(a, b *run) int {
	switch {
	case a.startEv == nil && b.startEv == nil:
		return 0
	case a.startEv == nil:
		return 1
	case b.startEv == nil:
		return -1
	}
	return cmpEvents(a.startEv.Time, a.startEv.Seq, b.startEv.Time, b.startEv.Seq)
}

func cmpEvents(at int64, as uint64, bt int64, bs uint64) int {
	switch {
	case at < bt:
		return -1
	case at > bt:
		return 1
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}

// offer adds a copy of *r, as PriorityQueue.offer does: appended, then sifted up. A run
// that took nothing (the start state) sorts last (cmpRuns): it stays where it is appended.
func (h *runHeap) offer(r *run) {
	*h = append(*h, *r)
	if r.startEv != nil {
		h.siftUp(len(*h) - 1)
	}
}

// siftUp moves the run at k up to its place. It is written once, where it ends up.
func (h runHeap) siftUp(k int) {
	x := h[k]
	moved := false
	for k > 0 {
		parent := (k - 1) >> 1
		if cmpRuns(&x, &h[parent]) >= 0 {
			break
		}
		h[k] = h[parent]
		k, moved = parent, true
	}
	if moved {
		h[k] = x
	}
}

func (h runHeap) siftDown(k int, x run, n int) {
	half := n >> 1
	for k < half {
		child := 2*k + 1
		right := child + 1
		if right < n && cmpRuns(&h[child], &h[right]) > 0 {
			child = right
		}
		if cmpRuns(&x, &h[child]) <= 0 {
			break
		}
		h[k] = h[child]
		k = child
	}
	h[k] = x
}

func (h *runHeap) poll() run {
	old := *h
	res := old[0]
	n := len(old) - 1
	x := old[n]
	old[n] = run{}
	*h = old[:n]
	if n > 0 {
		(*h).siftDown(0, x, n)
	}
	return res
}

func (h runHeap) heapify() {
	n := len(h)
	for i := (n >> 1) - 1; i >= 0; i-- {
		h.siftDown(i, h[i], n)
	}
}

// removeIf drops the runs for which drop is true, keeping the survivors' order, then
// re-heapifies (Java's PriorityQueue.removeIf / removeAll).
func (h *runHeap) removeIf(drop func(r *run) bool) {
	old := *h
	w := 0
	removed := false
	for i := range old {
		if drop(&old[i]) {
			removed = true
			continue
		}
		old[w] = old[i]
		w++
	}
	if !removed {
		return
	}
	clear(old[w:])
	*h = old[:w]
	h.heapify()
}

// maxLoopClear is the most elements clearRuns and clearNodes clear with a loop of stores;
// longer slices go to clear.
const maxLoopClear = 8

// clearRuns drops what the runs refer to, as clear does, for the scratch heaps and run
// arrays a step leaves (a few runs each, several times an event): clear's call to the
// runtime (memclrHasPointers, with its barrier check) costs more than a few stores. Every
// field is cleared (a run holds only pointers and its version's length, which goes with
// the version): a run beyond a slice's length is never read, only written whole by the
// next append.
func clearRuns(rs []run) {
	if len(rs) > maxLoopClear {
		clear(rs)
		return
	}
	for i := range rs {
		r := &rs[i]
		r.st, r.node, r.startEv, r.ver = nil, nil, nil, ""
	}
}

// copyRuns copies src to dst (of the same length; they do not overlap, or are the same
// slice: CutAll's setPartial(m.partial)), as copy does, for a step's few runs: with
// stores up to maxLoopClear runs, not copy's runtime call (typedslicecopy, with its
// barrier check).
func copyRuns(dst, src []run) {
	if len(src) > maxLoopClear {
		copy(dst, src)
		return
	}
	dst = dst[:len(src)]
	for i := range src {
		d := &dst[i] // (not dst[i] = src[i]: vet tools would have the copy this avoids)
		*d = src[i]
	}
}

// clearNodes is clearRuns for a slice of nodes.
func clearNodes(ns []*node) {
	if len(ns) > maxLoopClear {
		clear(ns)
		return
	}
	for i := 0; i < len(ns); i++ { // (not range: the compiler makes `range` clear's call)
		ns[i] = nil
	}
}
