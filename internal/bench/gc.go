package bench

import (
	"runtime"
	"runtime/metrics"
)

// gcSample is what the runtime says of the collector at one point of a run.
type gcSample struct {
	cycles uint64 // collections the runtime started on its own (not runtime.GC)
	alloc  uint64 // bytes allocated since the process started
	scan   uint64 // scannable heap: what a mark phase reads, after the last collection
	heap   uint64 // live heap after the last collection
}

// sampleGC collects, then reads the collector's counters. The automatic cycles are read
// before the collection it forces, which would not count anyway.
func sampleGC() gcSample {
	s := []metrics.Sample{{Name: "/gc/cycles/automatic:gc-cycles"}, {Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/scan/heap:bytes"}}
	metrics.Read(s[:1])
	runtime.GC()
	metrics.Read(s[1:])
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return gcSample{cycles: s[0].Value.Uint64(), alloc: s[1].Value.Uint64(), scan: s[2].Value.Uint64(), heap: m.HeapAlloc}
}
