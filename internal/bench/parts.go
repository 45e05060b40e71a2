package bench

import (
	"slices"
	"sync"
	"time"

	"github.com/cepd/cepd/engine"
)

// LatencyParts says where the sampled alerts' latency went (engine.LatencyParts), over
// the slowest 1% of the samples (those at or above the 99th percentile of their total,
// ranked exactly, not by the histogram) and over the middle 10% (the 45th to the 55th
// percentile), as each band's mean of every part. Only a paced run measures them (Rate
// set): the shards then read the clock once for every event they take up.
type LatencyParts struct {
	Tail   PartsMean `json:"slowest_1pct"`
	Median PartsMean `json:"middle_10pct"`
}

// PartsMean is one band of samples: how many, the mean of their total latency and of
// each part (µs), the mean number of events before theirs in its batch, and how many
// were made by time (a window the event's watermark closed) rather than completed by
// their event's matching.
type PartsMean struct {
	N        int     `json:"samples"`
	TotalUs  float64 `json:"total_us"`
	IngestUs float64 `json:"ingest_to_handoff_us"`
	QueueUs  float64 `json:"shard_queue_us"`
	BeforeUs float64 `json:"batch_before_us"`
	OwnUs    float64 `json:"own_and_out_us"`
	Position float64 `json:"events_before_in_batch"`
	Timed    int     `json:"timed"`
}

// partsLog collects the parts of every sampled alert (engine.Config.OnLatency), from
// every shard.
type partsLog struct {
	mu    sync.Mutex
	parts []engine.LatencyParts
}

func (l *partsLog) add(p engine.LatencyParts) {
	l.mu.Lock()
	l.parts = append(l.parts, p)
	l.mu.Unlock()
}

// figures returns the bands (nil without samples).
func (l *partsLog) figures() *LatencyParts {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.parts)
	if n == 0 {
		return nil
	}
	total := func(p engine.LatencyParts) time.Duration { return p.Ingest + p.Queue + p.Before + p.Own }
	slices.SortStableFunc(l.parts, func(a, b engine.LatencyParts) int { return int(total(a) - total(b)) })
	return &LatencyParts{Tail: mean(l.parts[n*99/100:]), Median: mean(l.parts[n*45/100 : max(n*55/100, n*45/100+1)])}
}

// mean is the band ps's PartsMean (ps not empty).
func mean(ps []engine.LatencyParts) PartsMean {
	var m PartsMean
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	for _, p := range ps {
		m.IngestUs += us(p.Ingest)
		m.QueueUs += us(p.Queue)
		m.BeforeUs += us(p.Before)
		m.OwnUs += us(p.Own)
		m.Position += float64(p.Position)
		if p.Timed {
			m.Timed++
		}
	}
	m.N = len(ps)
	k := float64(m.N)
	m.IngestUs, m.QueueUs, m.BeforeUs, m.OwnUs, m.Position = m.IngestUs/k, m.QueueUs/k, m.BeforeUs/k, m.OwnUs/k, m.Position/k
	m.TotalUs = m.IngestUs + m.QueueUs + m.BeforeUs + m.OwnUs
	return m
}
