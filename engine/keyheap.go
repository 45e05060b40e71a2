package engine

// keyHeap is a min-heap of (time, key) entries. Entries are not removed when a key's
// time changes: the consumer skips stale ones (time differs from the key's current one).
type keyHeap struct {
	at   []int64
	keys []*keyState
}

func (h *keyHeap) len() int           { return len(h.at) }
func (h *keyHeap) minAt() int64       { return h.at[0] }
func (h *keyHeap) less(i, j int) bool { return h.at[i] < h.at[j] }

func (h *keyHeap) swap(i, j int) {
	h.at[i], h.at[j] = h.at[j], h.at[i]
	h.keys[i], h.keys[j] = h.keys[j], h.keys[i]
}

func (h *keyHeap) push(at int64, ks *keyState) {
	h.at = append(h.at, at)
	h.keys = append(h.keys, ks)
	for i := len(h.at) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.swap(i, p)
		i = p
	}
}

func (h *keyHeap) pop() (int64, *keyState) {
	at, ks := h.at[0], h.keys[0]
	n := len(h.at) - 1
	h.swap(0, n)
	h.keys[n] = nil
	h.at, h.keys = h.at[:n], h.keys[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.less(l, m) {
			m = l
		}
		if r < n && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.swap(i, m)
		i = m
	}
	return at, ks
}
