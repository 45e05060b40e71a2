package engine

import (
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/event"
)

// Stats are the engine's counters; safe for concurrent use.
type Stats struct {
	events atomic.Uint64 // records ingested (added once per ingest call)
	late   atomic.Uint64
	// rematched counts events re-matched into their key's journal; superseded the alerts
	// already delivered that the corrected order no longer derives.
	rematched  atomic.Uint64
	superseded atomic.Uint64
	alerts     atomic.Uint64
	cooled     atomic.Uint64 // alerts suppressed by their rule's cooldown (cooldown.go)
	dropped    atomic.Uint64 // partial matches dropped by the per-key bound
	latency    []*histogram  // per shard
	// queued is per shard how long each batch of events waited between its hand-off by
	// ingest and the shard taking it up (the shard's backlog), beside latency.
	queued []*histogram
	shard  []shardCounts // per shard
	memMax int64         // the engine's memory budget

	rearmDropped atomic.Uint64 // matches dropped by their rule's rearm hold (aggregate.go)

	mu      sync.Mutex
	dlq     map[string]uint64
	cuts    map[string]uint64 // budget cuts by limit
	cutRuns uint64            // partial matches they cut
	cutRule map[string]uint64 // budget cuts by rule id
	recent  []BudgetCut       // the latest cut per key and rule, newest last (at most maxRecentCuts)
	// unknown counts the event fields the schema does not declare (every partition's
	// decoder reports to it).
	unknown *event.UnknownFields
	subs    []*Stats // the other key spaces' engines' (Config.KeySpaces)
}

// shardCounts are the counters one shard writes for every event, each shard's on cache
// lines of its own: counters that two cores write (or one writes and another reads) on
// one line cost both a cache miss per event.
type shardCounts struct {
	matched atomic.Uint64 // events fed to matchers
	memory  atomic.Int64  // accounted bytes of key states (budget.go)
	peak    peak
	_       [128 - 48]byte
}

// addSub makes Snapshot include o's counters, except the records ingested (the same
// records). o's engine skips events without its key; they are no dead letters.
func (s *Stats) addSub(o *Stats) {
	s.mu.Lock()
	s.subs = append(s.subs, o)
	s.mu.Unlock()
}

// BudgetCut is a key and rule the memory budget cut recently.
type BudgetCut struct {
	Key   string    `json:"key"`
	Rule  string    `json:"rule"`
	Limit string    `json:"limit"`
	Cuts  uint64    `json:"cuts"` // since the key and rule entered the list
	At    time.Time `json:"at"`   // the latest
}

// maxRecentCuts bounds the list of recently cut keys and rules.
const maxRecentCuts = 32

func newStats(shards int, memMax int64) *Stats {
	s := &Stats{dlq: map[string]uint64{}, cuts: map[string]uint64{}, cutRule: map[string]uint64{},
		shard: make([]shardCounts, shards), memMax: memMax, unknown: event.NewUnknownFields()}
	for i := 0; i < shards; i++ {
		s.latency = append(s.latency, &histogram{})
		s.queued = append(s.queued, &histogram{})
	}
	return s
}

func (s *Stats) deadLetter(reason string) {
	s.mu.Lock()
	s.dlq[reason]++
	s.mu.Unlock()
}

// budgetCut counts one cut of n partial matches of key's rule by limit why, and marks the
// key and rule in the list of recent cuts.
func (s *Stats) budgetCut(key, rule, why string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cuts[why]++
	s.cutRule[rule]++
	s.cutRuns += uint64(n)
	c := BudgetCut{Key: key, Rule: rule, Limit: why, Cuts: 1, At: time.Now().UTC()}
	if i := slices.IndexFunc(s.recent, func(x BudgetCut) bool { return x.Key == key && x.Rule == rule }); i >= 0 {
		c.Cuts += s.recent[i].Cuts
		s.recent = slices.Delete(s.recent, i, i+1)
	}
	if len(s.recent) == maxRecentCuts {
		s.recent = slices.Delete(s.recent, 0, 1)
	}
	s.recent = append(s.recent, c)
}

// Snapshot is a copy of the counters at one moment.
type Snapshot struct {
	Events     uint64            `json:"events"`
	Matched    uint64            `json:"matched"`
	Late       uint64            `json:"late"`
	Rematched  uint64            `json:"rematched"`
	Superseded uint64            `json:"superseded_alerts"`
	Cooled     uint64            `json:"cooled_alerts"` // suppressed by their rule's cooldown
	Alerts     uint64            `json:"alerts"`
	Dropped    uint64            `json:"dropped_partial_matches"`
	DeadLetter map[string]uint64 `json:"dead_letters"`

	// RearmDropped counts matches dropped by their rule's rearm policy (patterns.Rearm).
	RearmDropped uint64 `json:"rearm_dropped_matches"`
	// Latency percentiles (µs) from an event entering the engine to its alert.
	LatencyP50  float64 `json:"latency_p50_us"`
	LatencyP99  float64 `json:"latency_p99_us"`
	LatencyP999 float64 `json:"latency_p999_us"`
	LatencyN    uint64  `json:"latency_samples"`
	// LatencySum and QueueSum are the sums of the samples (Prometheus's summaries).
	LatencySum time.Duration `json:"-"`
	QueueSum   time.Duration `json:"-"`
	// Queue-wait percentiles (µs): how long a batch of events waited in its shard's queue
	// before the shard took it up (part of the latency of every alert its events make).
	QueueP50  float64 `json:"queue_wait_p50_us"`
	QueueP99  float64 `json:"queue_wait_p99_us"`
	QueueP999 float64 `json:"queue_wait_p999_us"`
	QueueN    uint64  `json:"queue_wait_samples"`
	// Memory budget: what the key states hold (nfa's exact account: matchers, runs,
	// shared-buffer entries and Dewey digits, not the events) against the engine budget;
	// how often a budget cut partial matches, by limit ("version", "nodes", "digits",
	// "bytes": a key and rule's budget; "engine": the engine's) and by rule, and how many
	// partial matches were cut.
	MemoryBytes      int64             `json:"memory_accounted_bytes"`
	MemoryBudget     int64             `json:"memory_budget_bytes"`
	BudgetCuts       map[string]uint64 `json:"budget_cuts"`
	BudgetCutsByRule map[string]uint64 `json:"budget_cuts_by_rule"`
	BudgetCutRuns    uint64            `json:"budget_cut_partial_matches"`
	// BudgetRecent lists the keys and rules cut most recently (at most 32), newest last:
	// the keys the budget has marked.
	BudgetRecent []BudgetCut `json:"budget_recent_cuts"`
	// The largest key and rule seen so far, each measure on its own (for sizing the budget).
	PeakRuns   int64 `json:"peak_key_rule_partial_matches"`
	PeakNodes  int64 `json:"peak_key_rule_nodes"`
	PeakDigits int64 `json:"peak_key_rule_digits"`
	PeakBytes  int64 `json:"peak_key_rule_bytes"`
	// UnknownFields counts the fields of decoded events that the schema does not declare,
	// by name (bounded: event.MaxUnknownNames names).
	UnknownFields event.UnknownSnapshot `json:"unknown_fields"`
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	sn := Snapshot{Events: s.events.Load(), Late: s.late.Load(),
		Rematched: s.rematched.Load(), Superseded: s.superseded.Load(), Cooled: s.cooled.Load(),
		Alerts: s.alerts.Load(), Dropped: s.dropped.Load(), RearmDropped: s.rearmDropped.Load(), DeadLetter: map[string]uint64{}}
	sn.BudgetCuts, sn.BudgetCutsByRule, sn.MemoryBudget = map[string]uint64{}, map[string]uint64{}, s.memMax
	for i := range s.shard {
		sn.Matched += s.shard[i].matched.Load()
		sn.MemoryBytes += s.shard[i].memory.Load()
		p := &s.shard[i].peak
		sn.PeakRuns = max(sn.PeakRuns, p.runs.Load())
		sn.PeakNodes, sn.PeakDigits, sn.PeakBytes = max(sn.PeakNodes, p.nodes.Load()), max(sn.PeakDigits, p.digits.Load()), max(sn.PeakBytes, p.bytes.Load())
	}
	s.mu.Lock()
	for k, v := range s.dlq {
		sn.DeadLetter[k] = v
	}
	for k, v := range s.cuts {
		sn.BudgetCuts[k] = v
	}
	for k, v := range s.cutRule {
		sn.BudgetCutsByRule[k] = v
	}
	sn.BudgetCutRuns = s.cutRuns
	sn.UnknownFields = s.unknown.Snapshot()
	sn.BudgetRecent = slices.Clone(s.recent)
	subs := slices.Clone(s.subs)
	s.mu.Unlock()
	var h, q histogram
	for i, l := range s.latency {
		h.merge(l)
		q.merge(s.queued[i])
	}
	for _, o := range subs {
		x := o.Snapshot()
		sn.Matched, sn.Late, sn.Rematched, sn.Superseded = sn.Matched+x.Matched, sn.Late+x.Late, sn.Rematched+x.Rematched, sn.Superseded+x.Superseded
		sn.Alerts, sn.Dropped, sn.BudgetCutRuns = sn.Alerts+x.Alerts, sn.Dropped+x.Dropped, sn.BudgetCutRuns+x.BudgetCutRuns
		sn.Cooled, sn.RearmDropped = sn.Cooled+x.Cooled, sn.RearmDropped+x.RearmDropped
		sn.MemoryBytes, sn.MemoryBudget = sn.MemoryBytes+x.MemoryBytes, sn.MemoryBudget+x.MemoryBudget
		sn.PeakRuns, sn.PeakNodes = max(sn.PeakRuns, x.PeakRuns), max(sn.PeakNodes, x.PeakNodes)
		sn.PeakDigits, sn.PeakBytes = max(sn.PeakDigits, x.PeakDigits), max(sn.PeakBytes, x.PeakBytes)
		for k, v := range x.DeadLetter {
			sn.DeadLetter[k] += v
		}
		for k, v := range x.BudgetCuts {
			sn.BudgetCuts[k] += v
		}
		for k, v := range x.BudgetCutsByRule {
			sn.BudgetCutsByRule[k] += v
		}
		sn.BudgetRecent = append(sn.BudgetRecent, x.BudgetRecent...)
		for i, l := range o.latency {
			h.merge(l)
			q.merge(o.queued[i])
		}
	}
	sn.LatencyP50, sn.LatencyP99, sn.LatencyP999, sn.LatencyN = h.summary()
	sn.QueueP50, sn.QueueP99, sn.QueueP999, sn.QueueN = q.summary()
	sn.LatencySum, sn.QueueSum = time.Duration(h.sum.Load()), time.Duration(q.sum.Load())
	return sn
}

// histogram is a log-linear latency histogram of nanosecond values: 16 sub-buckets per
// power of two, so a quantile is within about 6% of the true value. Written by one
// goroutine, read by any (atomic counters). sum is the samples' exact sum.
type histogram struct {
	b   [64 * 16]atomic.Uint64
	sum atomic.Int64
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

func (h *histogram) record(ns int64) {
	h.b[bucket(ns)].Add(1)
	h.sum.Add(max(ns, 0))
}

func (h *histogram) merge(o *histogram) {
	for i := range o.b {
		if v := o.b[i].Load(); v > 0 {
			h.b[i].Add(v)
		}
	}
	h.sum.Add(o.sum.Load())
}

func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.b {
		n += h.b[i].Load()
	}
	return n
}

// summary returns the p50, p99 and p99.9 in microseconds and the number of samples.
func (h *histogram) summary() (p50, p99, p999 float64, n uint64) {
	return h.quantile(0.5) / 1e3, h.quantile(0.99) / 1e3, h.quantile(0.999) / 1e3, h.count()
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
