package bench

import (
	"math"
	"runtime/metrics"
)

// schedMetric is the runtime's histogram of how long goroutines waited, runnable, for a
// processor: a shard that waits behind another one's backlog (or the collector's
// workers) delays its events as much as a queue does.
const schedMetric = "/sched/latencies:seconds"

// schedCounts are the runtime's running counts of schedMetric's buckets at one instant.
type schedCounts struct {
	counts  []uint64
	buckets []float64 // bucket i is [buckets[i], buckets[i+1]) seconds
}

// readSched reads schedMetric.
func readSched() schedCounts {
	s := []metrics.Sample{{Name: schedMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return schedCounts{}
	}
	h := s[0].Value.Float64Histogram()
	return schedCounts{counts: append([]uint64(nil), h.Counts...), buckets: h.Buckets}
}

// schedFigures returns, for the waits counted between from and to, the 99th percentile
// and the longest wait in µs: the upper bound of the bucket each falls in (its lower
// bound for the last, unbounded, bucket). Zeros when nothing was counted.
func schedFigures(from, to schedCounts) (p99, most float64) {
	if len(to.counts) == 0 || len(from.counts) != len(to.counts) {
		return 0, 0
	}
	d := make([]uint64, len(to.counts))
	var n uint64
	for i := range d {
		d[i] = to.counts[i] - from.counts[i]
		n += d[i]
	}
	if n == 0 {
		return 0, 0
	}
	bound := func(i int) float64 {
		b := to.buckets[i+1]
		if math.IsInf(b, 1) {
			b = to.buckets[i]
		}
		return b * 1e6
	}
	var cum uint64
	p99 = -1
	for i, c := range d {
		cum += c
		if p99 < 0 && float64(cum) >= 0.99*float64(n) {
			p99 = bound(i)
		}
		if c > 0 {
			most = bound(i)
		}
	}
	return p99, most
}
