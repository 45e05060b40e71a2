package engine

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestKeyHeapOrder: pushes and pops interleaved at random, each pop gives an entry with
// the least time held, with the key it was pushed with.
func TestKeyHeapOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var h keyHeap
	held := map[*keyState][]int64{} // times pushed for each key, not popped yet
	var all []int64
	for i := 0; i < 20000; i++ {
		if h.len() == 0 || r.IntN(3) > 0 {
			at, ks := int64(r.IntN(500)), &keyState{}
			if n := len(held); n > 0 && r.IntN(2) == 0 { // a key pushed again
				for k := range held {
					ks = k
					break
				}
			}
			h.push(at, ks)
			held[ks] = append(held[ks], at)
			all = append(all, at)
			continue
		}
		least := slices.Min(all)
		if h.minAt() != least {
			t.Fatalf("step %d: minAt %d, least held %d", i, h.minAt(), least)
		}
		at, ks := h.pop()
		if at != least {
			t.Fatalf("step %d: popped %d, least held %d", i, at, least)
		}
		j := slices.Index(held[ks], at)
		if j < 0 {
			t.Fatalf("step %d: popped (%d, key) not pushed with that key", i, at)
		}
		held[ks] = slices.Delete(held[ks], j, j+1)
		if len(held[ks]) == 0 {
			delete(held, ks)
		}
		all = slices.Delete(all, slices.Index(all, at), slices.Index(all, at)+1)
	}
	if h.len() != len(all) {
		t.Fatalf("heap holds %d, want %d", h.len(), len(all))
	}
}

// TestKeyHeapPopsSorted: whatever the pushes (many equal times or none, pops between
// them), draining the heap pops every pushed entry exactly once, by time.
func TestKeyHeapPopsSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 19))
	for round := range 200 {
		var h keyHeap
		n, span := r.IntN(5000), 1+r.Int64N([]int64{1, 10, 1000, math.MaxInt64 / 2}[r.IntN(4)])
		pushed := map[*keyState]int64{}
		for i := range n {
			ks := &keyState{idx: int32(i)}
			at := r.Int64N(span) - span/2
			h.push(at, ks)
			pushed[ks] = at
			if r.IntN(4) == 0 { // a pop between pushes: the least held
				at, ks := h.pop()
				for _, t2 := range pushed {
					if t2 < at {
						t.Fatalf("round %d: popped %d while %d is held", round, at, t2)
					}
				}
				if want, ok := pushed[ks]; !ok || want != at {
					t.Fatalf("round %d: popped (%d, key %d), not held", round, at, ks.idx)
				}
				delete(pushed, ks)
			}
		}
		if h.len() != len(pushed) {
			t.Fatalf("round %d: heap holds %d, pushed and not popped %d", round, h.len(), len(pushed))
		}
		last := int64(math.MinInt64)
		for h.len() > 0 {
			at, ks := h.pop()
			if at < last {
				t.Fatalf("round %d: popped %d after %d", round, at, last)
			}
			if want, ok := pushed[ks]; !ok || want != at {
				t.Fatalf("round %d: popped (%d, key %d), not held or popped twice", round, at, ks.idx)
			}
			delete(pushed, ks)
			last = at
		}
		if len(pushed) > 0 {
			t.Fatalf("round %d: %d entries never popped", round, len(pushed))
		}
	}
}

// TestKeyHeapLineAligned: after every growth, e[3] (the root's first grandchild, and so
// the first of every four grandchildren) is in the first 16 bytes of a 64-byte line (so
// the four's times are in one line), and starts the line once the array is a large
// object (32 KiB, 16-byte aligned). A heap whose array is not so aligned (given here by
// hand) is slower, not wrong: its pops and layout are still the sift by swaps'.
func TestKeyHeapLineAligned(t *testing.T) {
	var h keyHeap
	grown := 0
	for i := range 200000 {
		c := cap(h.e)
		h.push(int64(i%977), nil)
		if cap(h.e) != c {
			grown++
			a := uintptr(unsafe.Pointer(&h.e[0])) + 3*heapEntrySize
			if a%64 >= 16 || cap(h.e) >= 2048 && a%64 != 0 {
				t.Fatalf("cap %d: &e[3] is %#x, %d bytes into a line", cap(h.e), a, a%64)
			}
		}
	}
	if grown < 20 {
		t.Fatalf("grew %d times", grown)
	}
	r := rand.New(rand.NewPCG(1, 2))
	keys := make([]*keyState, 16)
	for i := range keys {
		keys[i] = &keyState{idx: int32(i)}
	}
	for off := range 4 {
		buf := make([]heapEntry, 3000+off)
		h := keyHeap{e: buf[off:off]} // len 0: the first pushes fill buf without growing
		var ref swapHeap
		for i := range 6000 {
			if h.len() == 0 || r.IntN(5) < 3 {
				at, ks := int64(r.IntN(30)), keys[r.IntN(len(keys))]
				h.push(at, ks)
				ref.push(at, ks)
			} else if at, ks := h.pop(); true {
				if rat, rks := ref.pop(); at != rat || ks != rks {
					t.Fatalf("offset %d step %d: popped (%d, key %d), swaps pop (%d, key %d)", off, i, at, ks.idx, rat, rks.idx)
				}
			}
			if !slices.Equal(h.e, ref.e) {
				t.Fatalf("offset %d step %d: entries differ from the sift by swaps", off, i)
			}
		}
	}
}

// swapHeap is keyHeap as it was before push and pop moved a hole: a sift by swaps, the
// reference for the order ties pop in.
type swapHeap struct{ e []heapEntry }

func (h *swapHeap) push(at int64, ks *keyState) {
	h.e = append(h.e, heapEntry{at, ks})
	e := h.e
	for i := len(e) - 1; i > 0; {
		p := (i - 1) / 2
		if e[i].at >= e[p].at {
			break
		}
		e[i], e[p] = e[p], e[i]
		i = p
	}
}

func (h *swapHeap) pop() (int64, *keyState) {
	e := h.e
	top := e[0]
	n := len(e) - 1
	e[0] = e[n]
	e = e[:n]
	h.e = e
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && e[l].at < e[m].at {
			m = l
		}
		if r < n && e[r].at < e[m].at {
			m = r
		}
		if m == i {
			break
		}
		e[i], e[m] = e[m], e[i]
		i = m
	}
	return top.at, top.ks
}

// TestKeyHeapSameAsSwaps: keyHeap holds its entries exactly where a sift by swaps puts
// them, after every push and pop of a random sequence with many equal times, so keys due
// at the same time fire in the order they always did.
func TestKeyHeapSameAsSwaps(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 13))
	keys := make([]*keyState, 64)
	for i := range keys {
		keys[i] = &keyState{idx: int32(i)}
	}
	for round := range 50 {
		var h keyHeap
		var ref swapHeap
		span := 1 + r.IntN(40) // few distinct times: many ties
		for i := range 4000 {
			if h.len() == 0 || r.IntN(5) < 3 {
				at, ks := int64(r.IntN(span)), keys[r.IntN(len(keys))]
				h.push(at, ks)
				ref.push(at, ks)
			} else {
				at, ks := h.pop()
				rat, rks := ref.pop()
				if at != rat || ks != rks {
					t.Fatalf("round %d step %d: popped (%d, key %d), swaps pop (%d, key %d)", round, i, at, ks.idx, rat, rks.idx)
				}
			}
			if !slices.Equal(h.e, ref.e) {
				t.Fatalf("round %d step %d: entries differ from the sift by swaps", round, i)
			}
		}
	}
}

// TestKeyHeapTimersSameAsSwaps uses keyHeap as a shard uses its timers, against swapHeap
// and against a sorted reference: keys are rescheduled at random (earlier or later, so
// stale entries stay behind), and the watermark moves on, popping every entry due by it
// and skipping the stale ones (shard.advance). The heaps grow to thousands of entries,
// a dozen levels, with few distinct times (ties). The keys each pops fire in the same
// order as swapHeap's, and they are exactly the keys due, in time order.
func TestKeyHeapTimersSameAsSwaps(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 3))
	for round := range 8 {
		keys := make([]*keyState, 1+r.IntN(2000))
		for i := range keys {
			keys[i] = &keyState{idx: int32(i), timerAt: math.MaxInt64}
		}
		var h keyHeap
		var ref swapHeap
		now, span := int64(0), int64(1+r.IntN(200))
		for step := range 120 {
			for range r.IntN(2 * len(keys)) { // reschedule
				ks := keys[r.IntN(len(keys))]
				at := now + 1 + r.Int64N(span)
				if at == ks.timerAt {
					continue
				}
				ks.timerAt = at
				h.push(at, ks)
				ref.push(at, ks)
			}
			now += r.Int64N(span/2 + 1)
			var want []heapEntry // the keys due, by time, then by index
			for _, ks := range keys {
				if ks.timerAt <= now {
					want = append(want, heapEntry{ks.timerAt, ks})
				}
			}
			var got []heapEntry
			for h.len() > 0 && h.minAt() <= now {
				at, ks := h.pop()
				rat, rks := ref.pop()
				if at != rat || ks != rks {
					t.Fatalf("round %d step %d: popped (%d, key %d), swaps pop (%d, key %d)", round, step, at, ks.idx, rat, rks.idx)
				}
				if at != ks.timerAt { // stale
					continue
				}
				if n := len(got); n > 0 && got[n-1].at > at {
					t.Fatalf("round %d step %d: key %d fires at %d after one at %d", round, step, ks.idx, at, got[n-1].at)
				}
				ks.timerAt = math.MaxInt64
				got = append(got, heapEntry{at, ks})
			}
			if !slices.Equal(h.e, ref.e) {
				t.Fatalf("round %d step %d: entries differ from the sift by swaps", round, step)
			}
			byTimeIdx := func(a, b heapEntry) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.ks.idx, b.ks.idx)) }
			slices.SortFunc(want, byTimeIdx)
			slices.SortFunc(got, byTimeIdx)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d step %d: %d keys fired, %d due, or not the same", round, step, len(got), len(want))
			}
		}
	}
}

// BenchmarkKeyHeap: one op pops the least entry of a heap of 60,000 entries with random
// times over a day (in ms, as the reference workload's timers) and pushes another a
// random time after it (a "hold" step: the heap keeps its size). warm runs one heap
// (960 KB, about the L2 cache); l3 runs 16 heaps in turn (15 MB, in the L3 cache); cold
// runs 64 heaps in turn (61 MB, twice the L3 cache), so each op finds its heap cold, as
// a shard finds its timers after an event's other state.
//
//	go test ./engine -run '^$' -bench KeyHeap -benchmem
func BenchmarkKeyHeap(b *testing.B) {
	const size, day = 60000, 86_400_000
	keys := make([]keyState, size)
	r := rand.New(rand.NewPCG(5, 8))
	fill := func() *keyHeap {
		h := new(keyHeap)
		for i := range keys {
			h.push(r.Int64N(day), &keys[i])
		}
		return h
	}
	for _, bc := range []struct {
		name  string
		heaps int
	}{{"warm", 1}, {"l3", 16}, {"cold", 64}} {
		b.Run(bc.name, func(b *testing.B) {
			hs := make([]*keyHeap, bc.heaps)
			for i := range hs {
				hs[i] = fill()
			}
			x := uint64(0x9e3779b97f4a7c15)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				h := hs[i%len(hs)]
				at, ks := h.pop()
				x ^= x << 13 // xorshift: no call per op
				x ^= x >> 7
				x ^= x << 17
				h.push(at+int64(x%day), ks)
			}
		})
	}
}
