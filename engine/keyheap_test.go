package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
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
