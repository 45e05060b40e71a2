package engine

import "math/bits"

// timeQueue holds (time, key) entries and gives them back least time first: a shard's
// key timers and journal ends, one of each per partition. Entries are not removed when a
// key's time changes: the consumer skips stale ones (time differs from the key's
// current one).
//
// It is a radix heap, for times that do not go back: every entry's time is at least
// last, the least time taken (or looked at) so far, and b[i] holds the entries whose time
// differs from last first in bit i-1 from the top (b[0]: time equal to last). A push
// appends to the bucket its time's bits pick; when b[0] runs out, the least non-empty
// bucket's least time becomes last and its entries move to lower buckets, each at most
// once per bit of its distance from last. Every access is an append to one of 65
// bucket ends or a pass over one bucket in order, where a binary heap of a shard's keys
// (megabytes, mostly cold when a timer pops) reads a cold line at most levels of every
// sift. Times that do go back (not made by the engine's clocks, kept for correctness)
// redistribute every entry.
//
// Entries of equal time come out last in, first out (the binary heap's order differed):
// keys are independent, so what they derive does not depend on the order of keys due at
// the same time (replays sort alerts; the replay check compares them with the binary
// heap's), except where keys share a bound: which key the engine memory budget cuts
// depends on the order keys settle in (budget.go), as it does on the interleaving of
// their events.
type timeQueue struct {
	last uint64 // the least time taken or looked at (order-preserving map of an int64: ordered)
	n    int
	b    [65][]heapEntry
}

type heapEntry struct {
	at int64
	ks *keyState
}

// ordered maps an int64 time to a uint64 of the same order.
func ordered(at int64) uint64 { return uint64(at) ^ 1<<63 }

func (q *timeQueue) len() int { return q.n }

// push adds (at, ks).
func (q *timeQueue) push(at int64, ks *keyState) {
	k := ordered(at)
	if k < q.last {
		q.rebase(k)
	}
	i := bits.Len64(k ^ q.last)
	q.b[i] = append(q.b[i], heapEntry{at, ks})
	q.n++
}

// rebase makes k, a time before last, the new last: every entry goes back to the
// bucket it has from there.
func (q *timeQueue) rebase(k uint64) {
	var all []heapEntry
	for i := range q.b {
		all = append(all, q.b[i]...)
		clear(q.b[i])
		q.b[i] = q.b[i][:0]
	}
	q.last = k
	for _, e := range all {
		i := bits.Len64(ordered(e.at) ^ k)
		q.b[i] = append(q.b[i], e)
	}
}

// settle makes b[0] hold the least time's entries (the queue must not be empty).
func (q *timeQueue) settle() {
	if len(q.b[0]) > 0 {
		return
	}
	i := 1
	for len(q.b[i]) == 0 {
		i++
	}
	src := q.b[i]
	m := ordered(src[0].at)
	for _, e := range src[1:] {
		m = min(m, ordered(e.at))
	}
	q.last = m
	for j, e := range src { // each to a bucket below i: its time and m agree down to bit i-1
		k := bits.Len64(ordered(e.at) ^ m)
		q.b[k] = append(q.b[k], e)
		src[j] = heapEntry{} // the key may go: the bucket's array does not keep it
	}
	if cap(src) > 64 && cap(src) > 2*q.n { // the queue has shrunk: give back the room
		src = nil
	}
	q.b[i] = src[:0]
}

// minAt returns the least time (the queue must not be empty).
func (q *timeQueue) minAt() int64 {
	q.settle()
	return q.b[0][len(q.b[0])-1].at
}

// pop removes an entry of the least time (the queue must not be empty).
func (q *timeQueue) pop() (int64, *keyState) {
	q.settle()
	b := q.b[0]
	e := b[len(b)-1]
	b[len(b)-1] = heapEntry{}
	q.b[0] = b[:len(b)-1]
	q.n--
	return e.at, e.ks
}
