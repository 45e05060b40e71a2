package engine

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTimeQueueOrder: pushes and pops interleaved at random, each pop gives an entry with
// the least time held, with the key it was pushed with; times go back now and then
// (rebase), and span negative and very large values.
func TestTimeQueueOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, span := range []int64{1, 500, 1 << 40, math.MaxInt64} {
		var q timeQueue
		held := map[*keyState][]int64{} // times pushed for each key, not popped yet
		var all []int64
		last := int64(math.MinInt64) // the least time popped: most pushes are not below it
		for i := 0; i < 20000; i++ {
			if q.len() == 0 || r.IntN(3) > 0 {
				at := r.Int64N(span) - span/2
				if r.IntN(20) > 0 && at < last { // most times do not go back
					at = last + (last-at)%1000
				}
				ks := &keyState{}
				if n := len(held); n > 0 && r.IntN(2) == 0 { // a key pushed again
					for k := range held {
						ks = k
						break
					}
				}
				q.push(at, ks)
				held[ks] = append(held[ks], at)
				all = append(all, at)
				continue
			}
			least := slices.Min(all)
			if q.minAt() != least {
				t.Fatalf("span %d step %d: minAt %d, least held %d", span, i, q.minAt(), least)
			}
			at, ks := q.pop()
			if at != least {
				t.Fatalf("span %d step %d: popped %d, least held %d", span, i, at, least)
			}
			last = at
			j := slices.Index(held[ks], at)
			if j < 0 {
				t.Fatalf("span %d step %d: popped (%d, key) not pushed with that key", span, i, at)
			}
			held[ks] = slices.Delete(held[ks], j, j+1)
			if len(held[ks]) == 0 {
				delete(held, ks)
			}
			all = slices.Delete(all, slices.Index(all, at), slices.Index(all, at)+1)
			checkReleased(t, &q)
		}
		if q.len() != len(all) {
			t.Fatalf("span %d: queue holds %d, want %d", span, q.len(), len(all))
		}
	}
}

// checkReleased fails unless every chunk slot past a chunk's length, and every free
// chunk, is zero: the queue keeps no key a pop or a move left behind alive. It also
// counts the entries (len) and the free list (at most maxFree).
func checkReleased(t *testing.T, q *timeQueue) {
	t.Helper()
	n := 0
	for i, c := range q.b {
		if i < 64 && (q.full>>i&1 == 1) != (c != nil) {
			t.Fatalf("bucket %d: full bit %d, chunks %v", i, q.full>>i&1, c != nil)
		}
		least := uint64(math.MaxUint64)
		for x := c; x != nil; x = x.next {
			for _, e := range x.e[:x.n] {
				least = min(least, ordered(e.at))
			}
		}
		if c != nil && q.min[i] != least {
			t.Fatalf("bucket %d: min %d, least entry %d", i, q.min[i], least)
		}
		for ; c != nil; c = c.next {
			if c.n == 0 {
				t.Fatalf("bucket %d holds an empty chunk", i)
			}
			n += int(c.n)
			for _, e := range c.e[c.n:] {
				if e.ks != nil {
					t.Fatalf("bucket %d keeps a key past a chunk's length", i)
				}
			}
		}
	}
	if n != q.len() {
		t.Fatalf("buckets hold %d entries, len says %d", n, q.len())
	}
	free := 0
	for c := q.free; c != nil; c = c.next {
		free++
		if c.n != 0 || c.e != ([63]heapEntry{}) {
			t.Fatal("a free chunk is not empty")
		}
	}
	if free != q.nfree || free > maxFree {
		t.Fatalf("%d free chunks, counted %d, at most %d", free, q.nfree, maxFree)
	}
}

// TestTimeQueueTimers drives the queue as shard.advance does: keys are rescheduled at
// random (earlier or later, so stale entries stay behind), and the watermark moves on,
// popping every entry due by it and skipping the stale ones. The keys that fire are
// exactly the keys due, in time order (equal times in any order: TestReplayMatchesSharded
// and the replay goldens check that the engine's output does not depend on it).
func TestTimeQueueTimers(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 3))
	for round := range 8 {
		keys := make([]*keyState, 1+r.IntN(2000))
		for i := range keys {
			keys[i] = &keyState{idx: int32(i), timerAt: math.MaxInt64}
		}
		var q timeQueue
		now, span := int64(r.Int64N(1<<40)), int64(1+r.IntN(200))
		for step := range 120 {
			for range r.IntN(2 * len(keys)) { // reschedule
				ks := keys[r.IntN(len(keys))]
				at := now + 1 + r.Int64N(span)
				if at == ks.timerAt {
					continue
				}
				ks.timerAt = at
				q.push(at, ks)
			}
			now += r.Int64N(span/2 + 1)
			var want []heapEntry // the keys due
			for _, ks := range keys {
				if ks.timerAt <= now {
					want = append(want, heapEntry{ks.timerAt, ks})
				}
			}
			var got []heapEntry
			for q.len() > 0 && q.minAt() <= now {
				at, ks := q.pop()
				if at != ks.timerAt { // stale
					continue
				}
				if n := len(got); n > 0 && got[n-1].at > at {
					t.Fatalf("round %d step %d: key %d fires at %d after one at %d", round, step, ks.idx, at, got[n-1].at)
				}
				ks.timerAt = math.MaxInt64
				got = append(got, heapEntry{at, ks})
			}
			checkReleased(t, &q)
			byTimeIdx := func(a, b heapEntry) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.ks.idx, b.ks.idx)) }
			slices.SortFunc(want, byTimeIdx)
			slices.SortFunc(got, byTimeIdx)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d step %d: %d keys fired, %d due, or not the same", round, step, len(got), len(want))
			}
		}
	}
}

// BenchmarkTimeQueue: one op takes the least entry of a queue of 60,000 entries with
// random times over a day (in ms, as the reference workload's timers) and pushes another
// a random time after it (a "hold" step: the queue keeps its size). warm runs one queue;
// l3 runs 16 in turn (about 15 MB, in the L3 cache); cold runs 64 in turn (about 61 MB,
// twice the L3 cache), so each op finds its queue cold, as a shard finds its timers
// after an event's other state. (Session 19's binary heap, same ops: warm 97, l3 237,
// cold 398 ns/op.)
//
//	go test ./engine -run '^$' -bench TimeQueue -benchmem
func BenchmarkTimeQueue(b *testing.B) {
	const size, day = 60000, 86_400_000
	keys := make([]keyState, size)
	r := rand.New(rand.NewPCG(5, 8))
	fill := func() *timeQueue {
		q := new(timeQueue)
		for i := range keys {
			q.push(r.Int64N(day), &keys[i])
		}
		return q
	}
	for _, bc := range []struct {
		name   string
		queues int
	}{{"warm", 1}, {"l3", 16}, {"cold", 64}} {
		b.Run(bc.name, func(b *testing.B) {
			qs := make([]*timeQueue, bc.queues)
			for i := range qs {
				qs[i] = fill()
			}
			x := uint64(0x9e3779b97f4a7c15)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				q := qs[i%len(qs)]
				at, ks := q.pop()
				x ^= x << 13 // xorshift: no call per op
				x ^= x >> 7
				x ^= x << 17
				q.push(at+int64(x%day), ks)
			}
		})
	}
}

// TestTimeQueuePeekMovesNothing: looking at the least time leaves last where the last
// pop put it, so that a key's shorter deadline pushed after a look (a new key's 1-minute
// window while the queue holds only 1-day ones) is no time going back; one before the
// last pop rebases without copying an entry (the chunks stay the same objects).
func TestTimeQueuePeekMovesNothing(t *testing.T) {
	var q timeQueue
	ks := &keyState{}
	q.push(1000, ks)
	q.pop()
	for i := range 200 {
		q.push(int64(86_400_000+i), ks)
	}
	last := q.last
	if q.minAt() != 86_400_000 || q.last != last {
		t.Fatalf("minAt %d moved last from %d to %d", q.minAt(), last, q.last)
	}
	q.push(60_000, ks) // after the last pop, before the least held
	if q.last != last {
		t.Fatal("a push after the last pop moved last")
	}
	chunks := map[*tqChunk]bool{}
	for _, c := range q.b {
		for ; c != nil; c = c.next {
			chunks[c] = true
		}
	}
	q.push(500, ks) // before the last pop: rebase
	for _, c := range q.b {
		for ; c != nil; c = c.next {
			if !chunks[c] && c.n != 1 {
				t.Fatal("rebase copied entries into a new chunk")
			}
		}
	}
	checkReleased(t, &q)
	for _, want := range []int64{500, 60_000, 86_400_000} {
		if at, _ := q.pop(); at != want {
			t.Fatalf("popped %d, want %d", at, want)
		}
	}
}
