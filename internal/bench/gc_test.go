package bench

import "testing"

// TestGCCyclesCountsCycleUnderWay: a collection the run started and whose mark phase
// outlasted it completes inside the end sample's runtime.GC (which waits for the cycle
// under way before forcing its own), so it is in the automatic count read after that
// collection, not in the one read before. On f05h the paced run's one collection starts
// about 88% of the way through and marks for 1.5–6 s; counting from the sample before
// the forced collection reported 0 cycles for runs that had one.
func TestGCCyclesCountsCycleUnderWay(t *testing.T) {
	base := gcSample{after: gcCounters{cycles: 3}}
	end := gcSample{before: gcCounters{cycles: 3}, after: gcCounters{cycles: 4}}
	var r Result
	gcFigures(&r, base, end, 100, 10)
	if r.GCCycles != 1 {
		t.Fatalf("a cycle under way at the end of the run: %d cycles counted, want 1", r.GCCycles)
	}
	end.after.cycles = 3 // none under way: the forced collection is not automatic
	gcFigures(&r, base, end, 100, 10)
	if r.GCCycles != 0 {
		t.Fatalf("no cycle: %d counted", r.GCCycles)
	}
}
