package bench

import (
	"runtime"
	"runtime/metrics"
)

// gcCounters are the collector's running totals at one instant.
type gcCounters struct {
	cycles uint64  // collections the runtime started on its own and completed (not runtime.GC)
	alloc  uint64  // bytes allocated since the process started
	gcCPU  float64 // CPU seconds the collector used (estimated by the runtime)
	assist float64 // of which mark assists: work a goroutine that allocates does for it
	used   float64 // CPU seconds used in all (user and collector; not idle)
}

// gcSample is what the runtime says of the collector at one point of a run: its totals
// just before and just after a forced collection, and the heap that collection left.
type gcSample struct {
	before, after gcCounters
	// The scheduler's waits so far, read with before (sched) and after both forced
	// collections (schedAfter): a run's are the end's sched less the start's schedAfter,
	// so that the forced collections' own (their workers') are not the run's.
	sched, schedAfter schedCounts
	// forced is what a second forced collection of the same heap cost (after it less
	// after): the runtime adds a cycle's CPU to its totals only when the cycle ends, so
	// a run's collector CPU is read after the end's forced collection (which first
	// waits for a cycle under way) less that collection's own, estimated by this one.
	forced  gcCounters
	scan    uint64 // scannable heap: what a mark phase reads
	heap    uint64 // live heap
	objects uint64 // live heap objects: each one a mark phase visits
}

// sampleGC reads the collector's counters, collects, and reads them again with the
// live and scannable heap; then collects once more to price a forced collection.
// A run's counts are the end's before less the start's after, its collector CPU the
// end's after less the start's after less the end's forced collection: the forced
// collections are not the run's.
func sampleGC() gcSample {
	var g gcSample
	g.before, g.sched = readCounters(), readSched()
	runtime.GC()
	g.after = readCounters()
	runtime.GC()
	g.forced = readCounters().minus(g.after)
	g.schedAfter = readSched()
	s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}, {Name: "/gc/heap/objects:objects"}}
	metrics.Read(s)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	g.scan, g.objects, g.heap = s[0].Value.Uint64(), s[1].Value.Uint64(), m.HeapAlloc
	return g
}

func readCounters() gcCounters {
	s := []metrics.Sample{{Name: "/gc/cycles/automatic:gc-cycles"}, {Name: "/gc/heap/allocs:bytes"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/gc/mark/assist:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(s)
	return gcCounters{cycles: s[0].Value.Uint64(), alloc: s[1].Value.Uint64(), gcCPU: s[2].Value.Float64(),
		assist: s[3].Value.Float64(), used: s[4].Value.Float64() - s[5].Value.Float64()}
}

// minus returns c less d, counter by counter.
func (c gcCounters) minus(d gcCounters) gcCounters {
	return gcCounters{cycles: c.cycles - d.cycles, alloc: c.alloc - d.alloc, gcCPU: c.gcCPU - d.gcCPU,
		assist: c.assist - d.assist, used: c.used - d.used}
}

// gcFigures sets r's collector figures for the run between base and end, over events
// events and keys keys.
func gcFigures(r *Result, base, end gcSample, events, keys int) {
	if keys > 0 && end.heap > base.heap {
		r.BytesPerKey = float64(end.heap-base.heap) / float64(keys)
	}
	if keys > 0 && end.scan > base.scan {
		r.ScanBytesPerKey = float64(end.scan-base.scan) / float64(keys)
	}
	if keys > 0 && end.objects > base.objects {
		r.ObjectsPerKey = float64(end.objects-base.objects) / float64(keys)
	}
	// What one collection of the run's state costs: the end's forced collection less the
	// start's (the input, the rule set), both of a heap that does not change meanwhile.
	r.MarkCPUMs = 1000 * max(end.forced.gcCPU-base.forced.gcCPU, 0)
	from, to := base.after, end.before
	r.AllocPerEvent = float64(to.alloc-from.alloc) / float64(events)
	// Cycles from after the end's forced collection: runtime.GC first waits for a cycle
	// under way, which the run started and which is the run's (before the fix it was
	// left out when its mark phase outlasted the run).
	r.GCCycles = end.after.cycles - from.cycles
	r.SchedWaitP99, r.SchedWaitMax = schedFigures(base.schedAfter, end.sched)
	// CPU up to after the end's forced collection, less that collection's (estimated
	// by the second one) and the start's second: read before it, a cycle still marking
	// at the end of the run (the paced run's one collection, as a rule) was not in the
	// totals.
	cpu := end.after.minus(from).minus(base.forced).minus(end.forced)
	if cpu.used > 0 {
		r.GCCPUShare = max(cpu.gcCPU, 0) / cpu.used
		r.AssistCPUShare = max(cpu.assist, 0) / cpu.used
	}
}
