package bench

import (
	"context"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/internal/defaults"
	"github.com/cepd/cepd/state"
)

// Result is what one run measured (`cepd bench --json` prints it).
type Result struct {
	Events       int     `json:"events"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"events_per_sec"`
	DecodePerSec float64 `json:"decode_events_per_sec"`
	ScanPerSec   float64 `json:"json_scan_events_per_sec"`
	ScanRatio    float64 `json:"json_scan_ratio"`
	LatencyP50   float64 `json:"latency_p50_us"`
	LatencyP99   float64 `json:"latency_p99_us"`
	LatencyP999  float64 `json:"latency_p999_us"`
	// LatencyN is the alerts the percentiles are of: those an ingested event made, by
	// completing them or moving event time past their window (the end of the stream's,
	// made by no event, are not).
	LatencyN uint64 `json:"latency_samples"`
	// QueueP50, QueueP99 and QueueP999 are how long batches of events waited in their
	// shard's queue before the shard took them up (µs; every batch, alert or not), QueueN
	// the batches.
	QueueP50  float64 `json:"queue_wait_p50_us"`
	QueueP99  float64 `json:"queue_wait_p99_us"`
	QueueP999 float64 `json:"queue_wait_p999_us"`
	QueueN    uint64  `json:"queue_wait_samples"`
	// PaceBehindP99 and PaceBehindMax are, in a paced run (Rate), how long after its due
	// time an Ingest call of the feed began (µs; p99 and maximum over the calls; 0
	// unpaced). The latency percentiles count from the call, so they leave out the time
	// a chunk waited behind one blocked on full shard queues: an engine that falls behind
	// the offered rate shows here.
	PaceBehindP99 float64 `json:"pace_behind_p99_us"`
	PaceBehindMax float64 `json:"pace_behind_max_us"`
	// SchedWaitP99 and SchedWaitMax are how long goroutines (shards, the feed, the
	// collector's workers) waited, runnable, for a processor in the timed run (µs; the
	// runtime's /sched/latencies histogram, to its bucket's upper bound): a shard waiting
	// behind another's backlog delays its events as a queue does.
	SchedWaitP99 float64 `json:"sched_wait_p99_us"`
	SchedWaitMax float64 `json:"sched_wait_max_us"`
	// Parts says where the sampled alerts' latency went, in a paced run (nil otherwise).
	Parts            *LatencyParts     `json:"latency_parts,omitempty"`
	BytesPerKey      float64           `json:"bytes_per_key"`
	StateBytesKey    float64           `json:"state_bytes_per_live_key"`
	Keys             int               `json:"keys"`
	LiveKeys         int               `json:"live_keys"`
	LiveRuns         int               `json:"live_partial_matches"`
	Alerts           uint64            `json:"alerts"`
	AlertsByRule     map[string]uint64 `json:"alerts_by_rule"`
	DeadLetters      map[string]uint64 `json:"dead_letters"`
	Late             uint64            `json:"late_events"`
	Shards           int               `json:"shards"`
	Partitions       int               `json:"partitions"`
	KeySpaces        []string          `json:"key_spaces"`
	OfferedRate      int               `json:"offered_rate,omitempty"`
	RulesEvaluated   int               `json:"rules"`
	Saves            uint64            `json:"checkpoint_saves,omitempty"`
	Reloads          int               `json:"reloads,omitempty"`
	ReloadRules      int               `json:"reload_rules,omitempty"`
	ReloadMaxPauseUs float64           `json:"reload_max_pause_us,omitempty"`
	LastSaveBytes    int64             `json:"last_checkpoint_bytes,omitempty"`
	BudgetCuts       map[string]uint64 `json:"budget_cuts"`
	PeakRuns         int64             `json:"peak_key_rule_partial_matches"`
	PeakNodes        int64             `json:"peak_key_rule_nodes"`
	PeakDigits       int64             `json:"peak_key_rule_digits"`
	PeakBytes        int64             `json:"peak_key_rule_bytes"`
	// ScanBytesPerKey is the part of BytesPerKey the collector's mark phase reads (the
	// scannable heap: objects up to their last pointer word); the rest is pointer-free.
	ScanBytesPerKey float64 `json:"scan_bytes_per_key"`
	// ObjectsPerKey is the live heap objects per key seen (as BytesPerKey): a mark phase
	// visits each one, most of them a cache miss, so it prices a collection as much as
	// the scanned bytes do. MarkCPUMs is the collector's CPU (ms, the runtime's estimate)
	// for one collection of the state the run left, less one of the state before it:
	// how long a mark phase competes with the shards for the cores.
	ObjectsPerKey float64 `json:"objects_per_key"`
	MarkCPUMs     float64 `json:"mark_cpu_ms"`
	// AllocPerEvent is the bytes allocated in the timed run (by the whole process: the
	// engine and the feeding) per event; GCCycles the collections the runtime started
	// in it, one still marking when the run ends included. Both pace the collector: a
	// mark phase takes a core and slows the shards.
	AllocPerEvent float64 `json:"alloc_bytes_per_event"`
	GCCycles      uint64  `json:"gc_cycles"`
	// GCCPUShare is the collector's share of the CPU the process used in the timed run
	// (the runtime's estimate), AssistCPUShare that of its mark assists, which the
	// goroutines that allocate (the shards among them) do in place of their own work.
	GCCPUShare     float64 `json:"gc_cpu_share"`
	AssistCPUShare float64 `json:"gc_assist_cpu_share"`
	// AtHalfRate is the run at half this one's rate (AtHalfRate; nil otherwise).
	AtHalfRate *Result `json:"at_half_rate,omitempty"`
}

// Config is how Run feeds the records. Zero values are defaults.
type Config struct {
	// Shards are the engine's shard workers (0: one per core).
	Shards int
	// Partitions are the input partitions, ingested concurrently (0: one per core).
	Partitions int
	// Rate is the offered rate in events/s over all partitions (0: as fast as possible).
	Rate int
	// Chunk is the number of records per Ingest call (default 1024).
	Chunk int
	// OutOfOrderness is the engine's.
	OutOfOrderness time.Duration
	// Store and CheckpointEvery, when both set, checkpoint the state during the run.
	Store           state.Store
	CheckpointEvery time.Duration
	// ReloadEvery and Reload, when both set, swap in Reload(gen) (gen = 1, 2, …) this
	// often during the run, compiled beside matching as the API does.
	ReloadEvery time.Duration
	Reload      func(gen int) (*engine.RuleSet, error)
	// Sink, if set, is told of every alert besides the count (the tests compare them).
	Sink alerts.Sink
}

// Run measures rs over recs (in written order, lateness included): the records split by
// key over the partitions, fed through engine.Runner, matched, then flushed at the end of
// the stream. Rules keyed by other fields than the schema's run in their key spaces
// (engine.Config.KeySpaces), as replay runs them; the records then go through one
// partition whatever c.Partitions says: a device's events come from every card partition,
// and partitions fed concurrently would hand a key space other than the first its keys'
// events out of order, beyond any out-of-orderness (the repartition topic's job with
// Kafka; docs/rekeying.md).
func Run(ctx context.Context, rs *engine.RuleSet, recs []engine.Record, c Config) (*Result, error) {
	spaces, err := engine.SplitKeySpaces(rs)
	if err != nil {
		return nil, err
	}
	rekeyed := len(spaces) > 1
	defaults.Positive(&c.Partitions, runtime.GOMAXPROCS(0))
	if rekeyed {
		c.Partitions = 1
	}
	defaults.Positive(&c.Chunk, 1024)
	decodeSecs, keys, parts := split(rs.Schema, recs, c.Partitions)
	scanSecs := jsonScan(recs, runtime.GOMAXPROCS(0))
	sink := &countSink{next: c.Sink}
	var behind paceLag
	var latParts partsLog
	var (
		eng       *engine.Engine
		base, end gcSample
		start     time.Time
		secs      float64
		st        engine.StateStats
		reloads   reloadResult
	)
	run := engine.Runner{
		Config: engine.Config{Shards: c.Shards, OutOfOrderness: c.OutOfOrderness, QueueSize: 16, KeySpaces: rekeyed},
		Rules:  rs, Sink: sink, DeadLetters: countDLQ{}, Chunk: c.Chunk, Rate: c.Rate, EndOfStream: true,
		Store: c.Store, CheckpointEvery: c.CheckpointEvery,
		Started: func(e *engine.Engine) {
			eng, base = e, sampleGC()
			start = time.Now()
		},
		Matched: func(ctx context.Context, e *engine.Engine) (err error) {
			secs = time.Since(start).Seconds()
			end = sampleGC()
			st, err = e.Inspect(ctx, true)
			return err
		},
	}
	if c.Rate > 0 {
		run.Behind = behind.add
		run.Config.OnLatency = latParts.add
	}
	if c.ReloadEvery > 0 && c.Reload != nil {
		run.Beside = func(ctx context.Context, stop <-chan struct{}, e *engine.Engine) error {
			return reload(ctx, stop, e, c, &reloads)
		}
	}
	if err := run.Run(ctx, parts...); err != nil {
		return nil, err
	}
	res := result(eng, rs, recs, c, sink, measured{decodeSecs, scanSecs, secs, keys, base, end, st, reloads})
	res.PaceBehindP99, res.PaceBehindMax = behind.figures()
	res.Parts = latParts.figures()
	for _, sp := range spaces {
		res.KeySpaces = append(res.KeySpaces, sp.Field)
	}
	return res, nil
}

// measured is what Run measured along the way.
type measured struct {
	decodeSecs, scanSecs, secs float64
	keys                       int
	base, end                  gcSample
	st                         engine.StateStats
	reloads                    reloadResult
}

// result assembles the Result of a run of eng (stopped: its counters are final).
func result(eng *engine.Engine, rs *engine.RuleSet, recs []engine.Record, c Config, sink *countSink, m measured) *Result {
	snap := eng.Stats().Snapshot()
	res := &Result{
		Events: len(recs), Seconds: m.secs, EventsPerSec: float64(len(recs)) / m.secs,
		DecodePerSec: float64(len(recs)) / m.decodeSecs, ScanPerSec: float64(len(recs)) / m.scanSecs,
		LatencyP50: snap.LatencyP50, LatencyP99: snap.LatencyP99, LatencyP999: snap.LatencyP999, LatencyN: snap.LatencyN,
		QueueP50: snap.QueueP50, QueueP99: snap.QueueP99, QueueP999: snap.QueueP999, QueueN: snap.QueueN,
		Keys: m.keys, LiveKeys: m.st.Keys, LiveRuns: m.st.LiveRuns, Alerts: sink.n.Load(),
		AlertsByRule: map[string]uint64{}, DeadLetters: snap.DeadLetter, Late: snap.Late,
		Partitions: c.Partitions, OfferedRate: c.Rate, RulesEvaluated: len(eng.Rules().Rules),
		BudgetCuts: snap.BudgetCuts, PeakRuns: snap.PeakRuns, PeakNodes: snap.PeakNodes, PeakDigits: snap.PeakDigits, PeakBytes: snap.PeakBytes,
	}
	res.Reloads, res.ReloadRules, res.ReloadMaxPauseUs = m.reloads.n, m.reloads.rules, float64(m.reloads.maxPause.Microseconds())
	cs := eng.CheckpointStats()
	res.Saves, res.LastSaveBytes = cs.Saves, cs.LastBytes
	res.Shards = c.Shards
	defaults.Positive(&res.Shards, runtime.GOMAXPROCS(0))
	res.ScanRatio = res.EventsPerSec / res.ScanPerSec
	gcFigures(res, m.base, m.end, len(recs), m.keys)
	if m.st.Keys > 0 {
		res.StateBytesKey = float64(m.st.Bytes) / float64(m.st.Keys)
	}
	sink.byRule.Range(func(k, v any) bool {
		res.AlertsByRule[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return res
}

// split times decoding the records alone on one core (the floor), counts their keys, and
// splits them by key over n partitions as Kafka keying would (a record that does not
// decode goes to partition 0, where the engine dead-letters it). The records are decoded
// once: the timed pass keeps a hash of each record's key (a few ns beside a decode of
// about a µs), and the count and the split read the hashes.
func split(schema *event.Schema, recs []engine.Record, n int) (decodeSecs float64, keys int, parts [][]engine.Record) {
	dec := jsondecode.NewDecoder(schema)
	var ev event.Event
	seed := maphash.MakeSeed()
	hashes := make([]uint64, len(recs))
	ok := make([]bool, len(recs))
	start := time.Now()
	for i, r := range recs {
		if dec.Decode(r.Value, &ev) == nil {
			hashes[i], ok[i] = maphash.String(seed, ev.Key), true
		}
	}
	decodeSecs = time.Since(start).Seconds()
	seen := make(map[uint64]struct{}, len(recs)/4)
	for i := range recs {
		if ok[i] {
			seen[hashes[i]] = struct{}{}
		}
	}
	if n == 1 { // recs as they are: no second copy of every record header to scan
		return decodeSecs, len(seen), [][]engine.Record{recs}
	}
	parts = make([][]engine.Record, n)
	for i, r := range recs {
		p := 0
		if ok[i] {
			p = int(hashes[i] % uint64(n))
		}
		parts[p] = append(parts[p], r)
	}
	return decodeSecs, len(seen), parts
}

// reload swaps in c.Reload(gen) every c.ReloadEvery until stop is closed, recording the
// swaps in out.
func reload(ctx context.Context, stop <-chan struct{}, eng *engine.Engine, c Config, out *reloadResult) error {
	t := time.NewTicker(c.ReloadEvery)
	defer t.Stop()
	for gen := 1; ; gen++ {
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
		next, err := c.Reload(gen) // compiled beside matching, as the API does
		if err != nil {
			return err
		}
		st, err := eng.SwapRules(ctx, next)
		if err != nil {
			return err
		}
		out.n++
		out.rules = len(next.Rules)
		out.maxPause = max(out.maxPause, st.Pause)
	}
}

// countSink counts alerts, in all and by rule, and passes them on to next (if set).
type countSink struct {
	n      atomic.Uint64
	byRule sync.Map // rule id → *atomic.Uint64
	next   alerts.Sink
}

func (c *countSink) Alert(a *alerts.Alert) {
	c.n.Add(1)
	v, ok := c.byRule.Load(a.RuleID)
	if !ok {
		v, _ = c.byRule.LoadOrStore(a.RuleID, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
	if c.next != nil {
		c.next.Alert(a)
	}
}

// countDLQ drops dead letters: the engine's stats count them.
type countDLQ struct{}

func (countDLQ) DeadLetter(engine.DeadLetter) {}

type reloadResult struct {
	n, rules int
	maxPause time.Duration
}

// paceLag collects how late each paced Ingest call began (engine.Runner.Behind).
type paceLag struct {
	mu   sync.Mutex
	late []time.Duration
}

func (l *paceLag) add(_ int, d time.Duration) {
	l.mu.Lock()
	l.late = append(l.late, d)
	l.mu.Unlock()
}

// figures returns the p99 and the maximum, in µs (0, 0 without calls).
func (l *paceLag) figures() (p99, maxUs float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.late)
	if n == 0 {
		return 0, 0
	}
	slices.Sort(l.late)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return us(l.late[min(n-1, n*99/100)]), us(l.late[n-1])
}
