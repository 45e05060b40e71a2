package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/rules"
)

// RuleSet is the rules the engine runs, compiled against Schema. It is immutable.
type RuleSet struct {
	Schema *event.Schema
	Rules  []*rules.Compiled
	// Slots is the number of memo slots the rules' registry assigned.
	Slots int

	alerts []atomic.Uint64 // alerts made, per rule (set up by the engine)
	cooled []atomic.Uint64 // alerts suppressed by the rule's cooldown, per rule
}

// DeadLetter is an event the engine could not match: malformed, or late under the
// dead-letter policy. Raw is the original bytes, untouched.
type DeadLetter struct {
	Reason    string // event.Reason* or "late"
	Error     string
	Raw       []byte
	Partition int
	Offset    int64
}

// DeadLetterSink receives dead letters; called concurrently from ingest and shard
// goroutines.
type DeadLetterSink interface {
	DeadLetter(d DeadLetter)
}

// ReasonLate is the dead-letter reason of a late event.
const ReasonLate = "late"

// Record is one raw event from a source with its position there.
type Record struct {
	Value  []byte
	Offset int64
}

// RecordError is why one record of an Ingest call was not accepted.
type RecordError struct {
	Index   int    `json:"index"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Engine is the runtime. Create it with New, run it with Start, stop it with Close.
type Engine struct {
	cfg    Config
	rules  *RuleSet // the rule set at start; the current one is current
	cur    atomic.Pointer[RuleSet]
	sink   alerts.Sink
	dlq    DeadLetterSink
	shards []*shard
	seed   maphash.Seed
	start  time.Time
	stats  *Stats
	log    *slog.Logger

	mu        sync.Mutex
	parts     map[int]*partition
	batchPool sync.Pool

	ckpt *checkpointer // nil: checkpoints off

	ks    *ownedSpaces // the other key spaces (Config.KeySpaces); nil: this one only
	child bool         // a key space another engine owns
	// missing, in a key space another engine owns, counts the events without its key
	// field: they are skipped, not rejected (no dead letter, no error text, no copy).
	missing *atomic.Uint64

	wg      sync.WaitGroup
	started bool
	closed  bool
	stopped chan struct{} // closed when the shard workers have all returned
	// sendMu: sends to the shard queues hold it shared; Close holds it to close them,
	// after which queuesClosed makes every send an ErrClosed (not a panic).
	sendMu       sync.RWMutex
	queuesClosed bool
}

// ErrClosed is what a call that needs the shards returns once the engine is closed (a
// request racing the shutdown).
var ErrClosed = errors.New("engine: closed")

// New builds an engine for rs. sink (usually an alerts.Pipeline) takes every alert the
// engine makes, on the shard goroutines (see alerts.Sink). sink and dlq must not be nil.
// The engine runs the rules of rs keyed by its schema's key; rules keyed by another field
// run in engines it owns, one per key field, with Config.KeySpaces (keyspaces.go), and are
// left out and logged without.
func New(cfg Config, rs *RuleSet, sink alerts.Sink, dlq DeadLetterSink) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("engine config: %w", err)
	}
	if rs == nil || rs.Schema == nil {
		return nil, errors.New("engine: a rule set with a schema is required")
	}
	cfg = cfg.Defaults()
	e := &Engine{cfg: cfg, sink: sink, dlq: dlq, seed: maphash.MakeSeed(),
		start: time.Now(), parts: map[int]*partition{}, stopped: make(chan struct{}), log: cfg.Log}
	e.stats = newStats(cfg.Shards, cfg.MemoryBudget)
	if cfg.KeySpaces {
		var err error
		if rs, err = e.initKeySpaces(rs); err != nil {
			return nil, err
		}
	}
	rs, other := ownKeySpace(rs)
	e.rules = rs
	rs.alerts = make([]atomic.Uint64, len(rs.Rules))
	rs.cooled = make([]atomic.Uint64, len(rs.Rules))
	e.cur.Store(rs)
	e.logWarnings(nil, rs)
	e.logOtherKeys(rs, other)
	for i := 0; i < cfg.Shards; i++ {
		e.shards = append(e.shards, newShard(e, i))
	}
	return e, nil
}

// Start runs the shard workers until ctx ends or Close is called.
func (e *Engine) Start(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return
	}
	e.started = true
	for _, s := range e.shards {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			s.run(ctx)
		}()
	}
	go func() {
		e.wg.Wait()
		close(e.stopped)
	}()
	if e.ks != nil {
		e.ks.feed.Lock()
		e.ks.ctx = ctx
		for _, c := range e.ks.children() {
			c.eng.Start(ctx)
		}
		e.ks.feed.Unlock()
	}
}

// Close stops the shard workers after they have processed what they were sent.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	e.sendMu.Lock() // no send is running: none can be on a closed queue
	e.queuesClosed = true
	for _, s := range e.shards {
		close(s.in)
	}
	e.sendMu.Unlock()
	e.wg.Wait()
	for _, c := range e.ks.children() {
		c.eng.Close()
	}
}

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return e.stats }

// Rules returns the rule set the engine runs (the newest, after a reload): with
// Config.KeySpaces, every key space's rules.
func (e *Engine) Rules() *RuleSet {
	if e.ks != nil {
		return e.ks.all.Load()
	}
	return e.cur.Load()
}

// schema is the event schema of the running rule set: the one at start, or a compatible
// one a reload put in its place (SwapRules).
func (e *Engine) schema() *event.Schema { return e.cur.Load().Schema }

// AlertsByRule returns how many alerts each rule of the current rule set has made.
func (e *Engine) AlertsByRule() map[string]uint64 {
	rs := e.cur.Load()
	out := make(map[string]uint64, len(rs.Rules))
	for i, c := range rs.Rules {
		out[c.Rule.ID] = rs.alerts[i].Load()
	}
	for _, c := range e.ks.children() {
		for id, n := range c.eng.AlertsByRule() {
			out[id] += n
		}
	}
	return out
}

func (e *Engine) now() int64 { return int64(time.Since(e.start)) }

func (e *Engine) shardOf(key string) int {
	if len(e.shards) == 1 {
		return 0
	}
	return int(maphash.String(e.seed, key) % uint64(len(e.shards)))
}

// Ingest decodes records of one partition and hands them to the shards, in order. It
// returns one error per record that was not accepted (malformed: also sent to the
// dead-letter sink and counted). It blocks while shard queues are full.
func (e *Engine) Ingest(ctx context.Context, part int, recs []Record) ([]RecordError, error) {
	if e.feedsSpaces() {
		return e.ingestSpaces(ctx, part, recs)
	}
	return e.ingestOwn(ctx, part, recs, nil)
}

// feedsSpaces reports whether the records the engine ingests go on to its other key
// spaces (Config.KeySpaces), rather than each key space having a source of its own
// (Config.SpaceSources) or there being none.
func (e *Engine) feedsSpaces() bool { return e.ks != nil && !e.cfg.SpaceSources }

// ingestOwn is Ingest into the engine's own key space (sh: see share).
func (e *Engine) ingestOwn(ctx context.Context, part int, recs []Record, sh *share) ([]RecordError, error) {
	p := e.partition(part)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ingest(ctx, recs, nil, sh)
}

// Outcomes waits until the shards have handled every event of a Submit call and returns
// what happened to each (out[i] for recs[i]; OutcomeRejected for the records in the
// errors). Match alerts completed by these events have been delivered to the sink when
// it returns.
type Outcomes func(ctx context.Context) ([]Outcome, error)

// Submit is Ingest, returning a function to wait with for each event's outcome. Calls
// for one partition are ordered by the order of their Submit calls; waiting may happen
// outside whatever lock orders them.
func (e *Engine) Submit(ctx context.Context, part int, recs []Record) (Outcomes, []RecordError, error) {
	var wait Outcomes
	var errs []RecordError
	var err error
	if e.feedsSpaces() {
		wait, _, errs, err = e.submitSpaces(ctx, part, recs, false)
	} else {
		wait, _, errs, err = e.submitOwn(ctx, part, recs, false, nil)
	}
	return wait, errs, err
}

// submitTicket ingests recs into partition part with t collecting their outcomes (and,
// when t.completed is set, the alerts each completes), and returns the wait for them.
func (e *Engine) submitTicket(ctx context.Context, part int, recs []Record, t *ticket, sh *share) (Outcomes, []RecordError, error) {
	p := e.partition(part)
	p.mu.Lock()
	errs, err := p.ingest(ctx, recs, t, sh)
	p.mu.Unlock()
	t.finish()
	wait := func(ctx context.Context) ([]Outcome, error) {
		select {
		case <-t.done:
			return t.out, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-e.stopped:
			select {
			case <-t.done:
				return t.out, nil
			default:
				return nil, errors.New("the engine stopped before matching the events")
			}
		}
	}
	return wait, errs, err
}

// IngestWait is Submit followed by Wait.
func (e *Engine) IngestWait(ctx context.Context, part int, recs []Record) ([]Outcome, []RecordError, error) {
	wait, errs, err := e.Submit(ctx, part, recs)
	if err != nil {
		return nil, errs, err
	}
	out, err := wait(ctx)
	return out, errs, err
}

// Flush ends the stream: the watermark moves to +infinity on every shard, so every window
// closes (timeouts and pending notFollowedBy matches fire), and Flush returns when all of
// it has been processed. A bounded input (a file, a benchmark) ends this way. It ends
// the stream after the records of the Ingest and Submit calls that returned before it;
// a call still running may hand its records to the shards after the end of stream, and
// their windows then stay open.
func (e *Engine) Flush(ctx context.Context) error {
	for _, s := range e.shards {
		if err := s.send(ctx, msg{kind: msgFinal}); err != nil {
			return err
		}
	}
	if err := e.Barrier(ctx); err != nil {
		return err
	}
	for _, c := range e.ks.children() {
		if err := c.eng.Flush(ctx); err != nil {
			return fmt.Errorf("key space %s: %w", c.field, err)
		}
	}
	return nil
}

// Barrier returns once every shard has processed everything sent to it before the call.
func (e *Engine) Barrier(ctx context.Context) error {
	dones := make([]chan struct{}, len(e.shards))
	for i, s := range e.shards {
		dones[i] = make(chan struct{})
		if err := s.send(ctx, msg{kind: msgBarrier, done: dones[i]}); err != nil {
			return err
		}
	}
	for _, d := range dones {
		select {
		case <-d:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for _, c := range e.ks.children() {
		if err := c.eng.Barrier(ctx); err != nil {
			return fmt.Errorf("key space %s: %w", c.field, err)
		}
	}
	return nil
}

// Watermark returns the engine's current watermark (ms), the minimum over active
// partitions; math.MinInt64 before any event. During an Ingest call a partition publishes
// its watermark at each hand-off to the shards, so a concurrent caller may see it up to one
// batch behind the events the call has read; it is current once Ingest returns.
func (e *Engine) Watermark() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	w, any := int64(math.MaxInt64), false
	for _, p := range e.parts {
		if p.idle.Load() {
			continue
		}
		w, any = min(w, p.wm.Load()), true
	}
	if !any {
		return math.MinInt64
	}
	return w
}
