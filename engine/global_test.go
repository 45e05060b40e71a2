package engine

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRecomputeGlobalOnePartition: with one partition, recomputeGlobal's shortcut sets
// the engine watermark to what the general rule gives (the minimum over active
// partitions, the maximum when all are idle, never going back), whatever the partition's
// watermark does and whether it is idle.
func TestRecomputeGlobalOnePartition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pc := &partClock{id: 0, wm: math.MinInt64}
	s := &shard{global: math.MinInt64, plist: []*partClock{pc}}
	for step := range 2000 {
		switch r.IntN(4) {
		case 0:
			pc.idle = !pc.idle
		case 1:
			pc.wm -= r.Int64N(100) // a restore may set it back
		default:
			pc.wm = max(pc.wm, 0) + r.Int64N(100)
		}
		want := referenceGlobal(s.global, s.plist)
		s.recomputeGlobal(unstamped)
		if s.global != want {
			t.Fatalf("step %d (wm %d, idle %v): engine watermark %d, want %d", step, pc.wm, pc.idle, s.global, want)
		}
	}
}

// referenceGlobal is the engine watermark by its definition: the minimum over active
// partitions, the maximum when all are idle, never behind global.
func referenceGlobal(global int64, plist []*partClock) int64 {
	w, active, all := int64(math.MaxInt64), false, int64(math.MinInt64)
	for _, pc := range plist {
		all = max(all, pc.wm)
		if !pc.idle {
			w, active = min(w, pc.wm), true
		}
	}
	if !active {
		w = all
	}
	return max(global, w)
}
