package engine

import "math/bits"

// timeQueue holds (time, key) entries and gives them back least time first: a shard's
// key timers and journal ends, one of each per partition. Entries are not removed when a
// key's time changes: the consumer skips stale ones (time differs from the key's
// current one).
//
// It is a radix heap: every entry's time is at least last, the least time taken so far,
// and bucket i holds the entries whose time differs from last first in bit i-1 from the
// top (bucket 0: time equal to last), so every entry of a bucket is less than every entry
// of a higher one. A push appends to the bucket its time's bits pick; when bucket 0 runs
// out, the least non-empty bucket's least time (kept per bucket) becomes last and its
// entries move to lower buckets, each at most once per bit of its distance from last.
// Every access is an append to one of 65 bucket ends or a pass over one bucket in
// order, where a binary heap of a shard's keys (megabytes, mostly cold when a timer
// pops) read a cold line at most levels of every sift (session 20: `go test ./engine
// -run '^$' -bench TimeQueue`).
//
// Looking at the least time (minAt) moves nothing: last moves only to a time taken,
// which the engine takes only once due, and its clocks push only later times. A push
// before last (a restore's clock, or any other caller's) makes it the new last: the
// buckets up to the highest bit where the two differ join that bucket, and the others
// stay as they are (their entries differ from both first in the same bit), so no entry
// moves.
//
// A bucket is a stack of chunks of 63 entries (1 KiB), taken from and given back to the
// queue's own free list: the queue holds its entries and a few part-filled chunks, not
// the peak size of each bucket (as arrays grown by append would), and moving entries
// allocates nothing once the free list has chunks.
//
// Entries of equal time come out last in, first out (the binary heap's order differed):
// keys are independent, so what they derive does not depend on the order of keys due at
// the same time (replays sort alerts; the replay check compares them with the binary
// heap's), except where keys share a bound: which key the engine memory budget cuts
// depends on the order keys settle in (budget.go), as it does on the interleaving of
// their events.
type timeQueue struct {
	last  uint64 // the least time taken (order-preserving map of an int64: ordered)
	n     int
	b     [65]*tqChunk // each bucket's newest chunk (nil: empty)
	min   [65]uint64   // each non-empty bucket's least time (ordered)
	full  uint64       // a bit for each non-empty bucket of 0 … 63 (bucket 64: b[64])
	free  *tqChunk     // chunks to reuse
	nfree int
}

type heapEntry struct {
	at int64
	ks *keyState
}

// tqChunk is part of a bucket: e[:n] in push order, over the bucket's older chunks.
type tqChunk struct {
	e    [63]heapEntry
	n    int32
	next *tqChunk // the bucket's older chunk, or the next free one
}

// maxFree is the most chunks a queue keeps for reuse (64 KiB): beyond, emptied chunks go.
const maxFree = 64

// ordered maps an int64 time to a uint64 of the same order.
func ordered(at int64) uint64 { return uint64(at) ^ 1<<63 }

func (q *timeQueue) len() int { return q.n }

// push adds (at, ks).
func (q *timeQueue) push(at int64, ks *keyState) {
	k := ordered(at)
	if k < q.last {
		q.rebase(k)
	}
	q.add(bits.Len64(k^q.last), k, heapEntry{at, ks})
	q.n++
}

// add appends e, of ordered time k, to bucket i: inlined where entries move (settle),
// the rest in addChunk.
func (q *timeQueue) add(i int, k uint64, e heapEntry) {
	c := q.b[i]
	if c == nil || int(c.n) == len(c.e) {
		c = q.addChunk(i, k)
	} else if k < q.min[i] {
		q.min[i] = k
	}
	c.e[c.n] = e
	c.n++
}

// addChunk puts a new chunk on bucket i, for an entry of ordered time k, and returns it.
// Kept out of line so that add inlines.
//
//go:noinline
func (q *timeQueue) addChunk(i int, k uint64) *tqChunk {
	c := q.b[i]
	if c == nil {
		q.min[i] = k
		q.mark(i)
	} else {
		q.min[i] = min(q.min[i], k)
	}
	c = q.chunk(c)
	q.b[i] = c
	return c
}

// mark marks bucket i non-empty (bucket 64: b[64] alone says it).
func (q *timeQueue) mark(i int) {
	if i < 64 {
		q.full |= 1 << i
	}
}

// empty marks bucket i empty.
func (q *timeQueue) empty(i int) {
	q.b[i] = nil
	if i < 64 {
		q.full &^= 1 << i
	}
}

// chunk returns an empty chunk over next, from the free list when it has one.
func (q *timeQueue) chunk(next *tqChunk) *tqChunk {
	c := q.free
	if c == nil {
		c = new(tqChunk)
	} else {
		q.free, q.nfree = c.next, q.nfree-1
	}
	c.next = next
	return c
}

// release gives an emptied chunk (its entries cleared) back to the free list, or to the
// collector when the list is full.
func (q *timeQueue) release(c *tqChunk) {
	c.n = 0
	if q.nfree < maxFree {
		c.next, q.free = q.free, c
		q.nfree++
		return
	}
	c.next = nil
}

// rebase makes k, a time before last, the new last. With h the highest bit where they
// differ (counted from 1), an entry of bucket i ≤ h agrees with last above bit h-1 and so
// differs from k first in bit h-1: buckets 0 … h join bucket h (their chunks are linked
// in, none copied); an entry of a higher bucket differs from last and k first in the same
// bit and stays.
func (q *timeQueue) rebase(k uint64) {
	h := bits.Len64(q.last ^ k)
	for i := range h {
		c := q.b[i]
		if c == nil {
			continue
		}
		q.empty(i)
		if q.b[h] == nil {
			q.min[h] = q.min[i]
			q.mark(h)
		} else {
			q.min[h] = min(q.min[h], q.min[i])
		}
		bottom := c
		for bottom.next != nil {
			bottom = bottom.next
		}
		bottom.next, q.b[h] = q.b[h], c
	}
	q.last = k
}

// least returns the least non-empty bucket (the queue must not be empty).
func (q *timeQueue) least() int {
	if q.full != 0 {
		return bits.TrailingZeros64(q.full)
	}
	return 64
}

// settle makes bucket 0 hold the least time's entries (the queue must not be empty).
func (q *timeQueue) settle() {
	if q.b[0] != nil {
		return
	}
	i := q.least()
	src := q.b[i]
	q.empty(i)
	q.last = q.min[i]
	for c := src; c != nil; { // each to a bucket below i: its time and last agree down to bit i-1
		next := c.next
		for j := range c.n {
			e := c.e[j]
			c.e[j] = heapEntry{} // the key may go: the chunk does not keep it
			k := ordered(e.at)
			q.add(bits.Len64(k^q.last), k, e)
		}
		q.release(c)
		c = next
	}
}

// minAt returns the least time (the queue must not be empty), moving nothing.
func (q *timeQueue) minAt() int64 {
	return int64(q.min[q.least()] ^ 1<<63)
}

// pop removes an entry of the least time (the queue must not be empty).
func (q *timeQueue) pop() (int64, *keyState) {
	q.settle()
	c := q.b[0]
	c.n--
	e := c.e[c.n]
	c.e[c.n] = heapEntry{}
	if c.n == 0 {
		if q.b[0] = c.next; c.next == nil {
			q.empty(0)
		}
		q.release(c)
	}
	q.n--
	return e.at, e.ks
}
