package engine

import "math/bits"

// timeQueue holds (time, key) entries and gives them back least time first: a shard's
// key timers and journal ends, one of each per partition. Entries are not removed when a
// key's time changes: the consumer skips stale ones (time differs from the key's
// current one).
//
// It is a radix heap, for times that do not go back: every entry's time is at least
// last, the least time taken (or looked at) so far, and bucket i holds the entries whose
// time differs from last first in bit i-1 from the top (bucket 0: time equal to last).
// A push appends to the bucket its time's bits pick; when bucket 0 runs out, the least
// non-empty bucket's least time becomes last and its entries move to lower buckets, each
// at most once per bit of its distance from last. Every access is an append to one of
// 65 bucket ends or a pass over one bucket in order, where a binary heap of a shard's
// keys (megabytes, mostly cold when a timer pops) read a cold line at most levels of
// every sift (session 20: `go test ./engine -run '^$' -bench TimeQueue`). Times that do
// go back (not made by the engine's clocks, kept for correctness) redistribute every
// entry.
//
// A bucket is a stack of chunks of 63 entries (1 KiB), taken from and given back to the
// queue's own free list: the queue holds its entries and at most one part-filled chunk a
// bucket, not the peak size of each bucket (as arrays grown by append would), and moving
// entries allocates nothing once the free list has chunks.
//
// Entries of equal time come out last in, first out; the engine's output does not depend
// on the order of keys due at the same time (replays sort alerts; TestTimeQueueTimers).
type timeQueue struct {
	last  uint64 // the least time taken or looked at (order-preserving map of an int64: ordered)
	n     int
	b     [65]*tqChunk // each bucket's newest chunk (nil: empty)
	free  *tqChunk     // chunks to reuse
	nfree int
}

type heapEntry struct {
	at int64
	ks *keyState
}

// tqChunk is part of a bucket: e[:n] in push order, under the bucket's newer chunks.
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
	q.add(bits.Len64(k^q.last), heapEntry{at, ks})
	q.n++
}

// add appends e to bucket i.
func (q *timeQueue) add(i int, e heapEntry) {
	c := q.b[i]
	if c == nil || int(c.n) == len(c.e) {
		c = q.chunk(c)
		q.b[i] = c
	}
	c.e[c.n] = e
	c.n++
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

// take empties bucket i and returns its chunks (newest first).
func (q *timeQueue) take(i int) *tqChunk {
	c := q.b[i]
	q.b[i] = nil
	return c
}

// redistribute moves the entries of the chunks c (and those under it) to the buckets they
// have from last, clearing and releasing the chunks.
func (q *timeQueue) redistribute(c *tqChunk) {
	for c != nil {
		next := c.next
		for j := range c.n {
			e := c.e[j]
			c.e[j] = heapEntry{} // the key may go: the chunk does not keep it
			q.add(bits.Len64(ordered(e.at)^q.last), e)
		}
		q.release(c)
		c = next
	}
}

// rebase makes k, a time before last, the new last: every entry goes back to the
// bucket it has from there.
func (q *timeQueue) rebase(k uint64) {
	var all []*tqChunk
	for i := range q.b {
		if c := q.take(i); c != nil {
			all = append(all, c)
		}
	}
	q.last = k
	for _, c := range all {
		q.redistribute(c)
	}
}

// settle makes bucket 0 hold the least time's entries (the queue must not be empty).
func (q *timeQueue) settle() {
	if q.b[0] != nil {
		return
	}
	i := 1
	for q.b[i] == nil {
		i++
	}
	src := q.take(i)
	m := ordered(src.e[0].at)
	for c := src; c != nil; c = c.next {
		for _, e := range c.e[:c.n] {
			m = min(m, ordered(e.at))
		}
	}
	q.last = m
	q.redistribute(src) // each to a bucket below i: its time and m agree down to bit i-1
}

// minAt returns the least time (the queue must not be empty).
func (q *timeQueue) minAt() int64 {
	q.settle()
	c := q.b[0]
	return c.e[c.n-1].at
}

// pop removes an entry of the least time (the queue must not be empty).
func (q *timeQueue) pop() (int64, *keyState) {
	q.settle()
	c := q.b[0]
	c.n--
	e := c.e[c.n]
	c.e[c.n] = heapEntry{}
	if c.n == 0 {
		q.b[0] = c.next
		q.release(c)
	}
	q.n--
	return e.at, e.ks
}
