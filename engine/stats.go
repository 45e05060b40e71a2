package engine

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Stats are the engine's counters; safe for concurrent use.
type Stats struct {
	events  atomic.Uint64 // records ingested
	matched atomic.Uint64 // events fed to matchers
	late    atomic.Uint64
	// rematched counts events re-matched into their key's journal; superseded the alerts
	// already delivered that the corrected order no longer derives.
	rematched  atomic.Uint64
	superseded atomic.Uint64
	alerts     atomic.Uint64
	dropped    atomic.Uint64 // partial matches dropped by the per-key bound
	latency    []*histogram  // per shard

	mu  sync.Mutex
	dlq map[string]uint64
}

func newStats(shards int) *Stats {
	s := &Stats{dlq: map[string]uint64{}}
	for i := 0; i < shards; i++ {
		s.latency = append(s.latency, &histogram{})
	}
	return s
}

func (s *Stats) deadLetter(reason string) {
	s.mu.Lock()
	s.dlq[reason]++
	s.mu.Unlock()
}

// Snapshot is a copy of the counters at one moment.
type Snapshot struct {
	Events     uint64            `json:"events"`
	Matched    uint64            `json:"matched"`
	Late       uint64            `json:"late"`
	Rematched  uint64            `json:"rematched"`
	Superseded uint64            `json:"superseded_alerts"`
	Alerts     uint64            `json:"alerts"`
	Dropped    uint64            `json:"dropped_partial_matches"`
	DeadLetter map[string]uint64 `json:"dead_letters"`
	// Latency percentiles (µs) from an event entering the engine to its alert.
	LatencyP50  float64 `json:"latency_p50_us"`
	LatencyP99  float64 `json:"latency_p99_us"`
	LatencyP999 float64 `json:"latency_p999_us"`
	LatencyN    uint64  `json:"latency_samples"`
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	sn := Snapshot{Events: s.events.Load(), Matched: s.matched.Load(), Late: s.late.Load(),
		Rematched: s.rematched.Load(), Superseded: s.superseded.Load(),
		Alerts: s.alerts.Load(), Dropped: s.dropped.Load(), DeadLetter: map[string]uint64{}}
	s.mu.Lock()
	for k, v := range s.dlq {
		sn.DeadLetter[k] = v
	}
	s.mu.Unlock()
	var h histogram
	for _, l := range s.latency {
		h.merge(l)
	}
	sn.LatencyN = h.count()
	sn.LatencyP50 = h.quantile(0.5) / 1e3
	sn.LatencyP99 = h.quantile(0.99) / 1e3
	sn.LatencyP999 = h.quantile(0.999) / 1e3
	return sn
}

// histogram is a log-linear latency histogram of nanosecond values: 16 sub-buckets per
// power of two, so a quantile is within about 6% of the true value. Written by one
// goroutine, read by any (atomic counters).
type histogram struct {
	b [64 * 16]atomic.Uint64
}

func bucket(v int64) int {
	if v < 16 {
		if v < 0 {
			v = 0
		}
		return int(v)
	}
	e := 63 - bits.LeadingZeros64(uint64(v)) // v >= 16 → e >= 4
	sub := int(uint64(v)>>(e-4)) & 15
	return (e-3)*16 + sub
}

func bucketMid(i int) float64 {
	if i < 16 {
		return float64(i)
	}
	e := i/16 + 3
	sub := i % 16
	lo := float64(uint64(16+sub) << (e - 4))
	return lo + math.Ldexp(1, e-4)/2
}

func (h *histogram) record(ns int64) { h.b[bucket(ns)].Add(1) }

func (h *histogram) merge(o *histogram) {
	for i := range o.b {
		if v := o.b[i].Load(); v > 0 {
			h.b[i].Add(v)
		}
	}
}

func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.b {
		n += h.b[i].Load()
	}
	return n
}

func (h *histogram) quantile(q float64) float64 {
	n := h.count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i := range h.b {
		seen += h.b[i].Load()
		if seen >= rank {
			return bucketMid(i)
		}
	}
	return bucketMid(len(h.b) - 1)
}
