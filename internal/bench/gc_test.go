package bench

import (
	"math"
	"testing"
)

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

// TestGCCPUCountsCycleUnderWay: the runtime adds a cycle's CPU to its totals when the
// cycle ends, so the CPU of a collection still marking at the end of the run is only in
// the counters read after the end's forced collection; the forced collections' own CPU
// (priced by a second one at each sample) is not the run's.
func TestGCCPUCountsCycleUnderWay(t *testing.T) {
	base := gcSample{after: gcCounters{gcCPU: 1, used: 10}, forced: gcCounters{gcCPU: 0.5, used: 0.5}}
	end := gcSample{
		before: gcCounters{gcCPU: 1.5, used: 30},   // the start's second forced collection only
		after:  gcCounters{gcCPU: 5.5, used: 34.5}, // + the run's cycle (3 s) + the end's forced collection (1 s)
		forced: gcCounters{gcCPU: 1, used: 1},
	}
	var r Result
	gcFigures(&r, base, end, 100, 10)
	// used: 34.5 - 10 - 0.5 - 1 = 23; collector: 5.5 - 1 - 0.5 - 1 = 3.
	if want := 3.0 / 23; r.GCCPUShare < want-1e-9 || r.GCCPUShare > want+1e-9 {
		t.Fatalf("collector CPU share %.4f, want %.4f (the cycle under way counted, the forced ones not)", r.GCCPUShare, want)
	}
}

// TestSchedFigures: the scheduler's waits of a run are the histogram's counts at its end
// less those at its start; the 99th percentile and the longest are reported as their
// buckets' upper bounds in µs (the lower bound for the unbounded last bucket).
func TestSchedFigures(t *testing.T) {
	buckets := []float64{0, 1e-6, 1e-5, 1e-4, 1e-3, math.Inf(1)}
	from := schedCounts{counts: []uint64{5, 5, 5, 5, 5}, buckets: buckets}
	to := schedCounts{counts: []uint64{5, 105, 5, 6, 5}, buckets: buckets} // 100 waits of 1–10µs, one of 100µs–1ms
	p99, most := schedFigures(from, to)
	if p99 != 10 || most != 1000 {
		t.Fatalf("p99 %.0fµs, longest %.0fµs; want 10 and 1000", p99, most)
	}
	to.counts[4] += 2 // two waits of a millisecond or more
	if p99, most = schedFigures(from, to); p99 != 1000 || most != 1000 {
		t.Fatalf("p99 %.0fµs, longest %.0fµs; want 1000 and 1000 (the unbounded bucket's lower bound)", p99, most)
	}
	if p99, most = schedFigures(from, from); p99 != 0 || most != 0 {
		t.Fatalf("no waits: p99 %.0f, longest %.0f", p99, most)
	}
}
