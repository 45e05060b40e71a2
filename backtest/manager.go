package backtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/defaults"
	"github.com/cepd/cepd/rules"
)

// Errors of the Manager; callers test them with errors.Is. A Spec whose rules do not
// compile is rejected with a patterns.ErrorList instead (errors.As).
var (
	ErrInvalid     = errors.New("invalid backtest")
	ErrNotFound    = errors.New("no such backtest")
	ErrNoFiles     = errors.New("backtests over files are off: no events directory is configured")
	ErrNoRetention = errors.New("no events are retained from the live stream (retention is off): give an events file")
	ErrBusy        = errors.New("too many backtests are waiting to run")
	ErrClosed      = errors.New("backtests are shutting down")
)

// Options configure a Manager. Schema is required; zero fields take the defaults.
type Options struct {
	// Schema is the events' schema; Env tunes the rules' CEL environment (as the live
	// rules are compiled).
	Schema *event.Schema
	Env    rules.EnvOptions
	// CurrentSchema, if set, returns the schema rules run against now (it changes when
	// the schema is changed live); each backtest compiles its rules and reads its events
	// with the schema current when it is created. Nil or a nil result: Schema.
	CurrentSchema func() *event.Schema
	// EventsDir is the directory events files are read from: a backtest's events file is
	// a path inside it, and nothing outside it (by "..", absolute path or symbolic link)
	// can be read. Empty: backtests over files are off.
	EventsDir string
	// MaxFileBytes bounds an events file (default 1 GiB). A run holds the whole file in
	// memory (it must sort it): roughly its size plus 100 bytes an event.
	MaxFileBytes int64
	// Retainer, if set, holds the live events backtests without a file run over.
	Retainer *Retainer
	// MaxRunning bounds the backtests running at once (default 1); the others wait,
	// QUEUED, in the order they were created.
	MaxRunning int
	// MaxQueued bounds the backtests waiting (default 16); Create fails with ErrBusy
	// beyond it.
	MaxQueued int
	// MaxFinished is how many finished backtests are kept for Get and List (default 50);
	// the oldest finished is dropped first.
	MaxFinished int
	// Shards is the number of shard workers of each backtest's engine (default 1, so that
	// a backtest does not crowd the live engine).
	Shards int
	// Feedback, if set, returns the analysts' verdict on an alert id (FeedbackFraud,
	// FeedbackFalsePositive or ""): the results then count the backtest's alerts analysts
	// confirmed or rejected, per rule. Called concurrently.
	Feedback func(alertID string) string
}

// Defaults of Options.
const (
	DefaultMaxFileBytes = 1 << 30
	DefaultMaxRunning   = 1
	DefaultMaxQueued    = 16
	DefaultMaxFinished  = 50
)

// Manager runs backtests as jobs. It is safe for concurrent use. Each running job is a
// goroutine under a context the Manager owns; Close cancels and waits for them all.
type Manager struct {
	o      Options
	envMu  sync.Mutex    // guards env and envFor
	env    *rules.Env    // the CEL environment of envFor
	envFor *event.Schema // the schema env was made for
	root   *os.Root      // nil: files off
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// closeOnce runs shutDown once; every Close returns when it has.
	closeOnce sync.Once

	mu       sync.Mutex
	jobs     map[string]*job
	all      []*job // creation order
	queue    []*job
	running  int
	finished []*job // the order they finished in
	closed   bool
}

// NewManager returns a Manager; Close releases it.
func NewManager(o Options) (*Manager, error) {
	if o.Schema == nil {
		return nil, errors.New("backtest: a schema is required")
	}
	defaults.Positive(&o.MaxFileBytes, DefaultMaxFileBytes)
	defaults.Positive(&o.MaxRunning, DefaultMaxRunning)
	defaults.Positive(&o.MaxQueued, DefaultMaxQueued)
	defaults.Positive(&o.MaxFinished, DefaultMaxFinished)
	defaults.Positive(&o.Shards, 1)
	m := &Manager{o: o, jobs: map[string]*job{}}
	if _, _, err := m.compiler(); err != nil {
		return nil, err
	}
	var err error
	if o.EventsDir != "" {
		if m.root, err = os.OpenRoot(o.EventsDir); err != nil {
			return nil, fmt.Errorf("backtest: events directory: %w", err)
		}
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Create validates and compiles spec and queues the backtest; it runs as soon as fewer
// than MaxRunning backtests are running. Rules that do not compile are rejected with a
// patterns.ErrorList holding every error; a bad spec with ErrInvalid; a spec without an
// events file when there is no Retainer with ErrNoRetention.
func (m *Manager) Create(_ context.Context, spec Spec) (*Job, error) {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if len(spec.Rules) == 0 {
		return nil, fmt.Errorf("%w: no rules to run", ErrInvalid)
	}
	switch {
	case spec.MaxAlerts < 0:
		return nil, fmt.Errorf("%w: max alerts %d is negative", ErrInvalid, spec.MaxAlerts)
	case spec.MaxAlerts == 0:
		spec.MaxAlerts = DefaultMaxAlerts
	}
	src := SourceRetained
	if spec.EventsFile != "" {
		src = SourceFile
		if err := m.checkFile(spec.EventsFile); err != nil {
			return nil, err
		}
	} else if m.o.Retainer == nil {
		return nil, ErrNoRetention
	}
	schema, env, err := m.compiler()
	if err != nil {
		return nil, err
	}
	rs, ids, err := compile(spec.Rules, schema, env)
	if err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	spec.Rules = nil // compiled into rs
	j := &job{id: id, spec: spec, source: src, ids: ids, rs: rs, created: time.Now().UTC(), state: Queued, done: make(chan struct{})}
	j.tally = newTally(j.ids, nil, 0)
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return nil, ErrClosed
	case len(m.queue) >= m.o.MaxQueued:
		return nil, fmt.Errorf("%w (%d); try again when one has finished", ErrBusy, len(m.queue))
	}
	j.ctx, j.cancel = context.WithCancel(m.ctx)
	m.jobs[id] = j
	m.all = append(m.all, j)
	m.queue = append(m.queue, j)
	m.schedule()
	return j.snapshot(true), nil
}

// compiler returns the schema a new backtest runs with (Options.CurrentSchema's, or
// Schema) and its CEL environment, made again only when the schema has changed.
func (m *Manager) compiler() (*event.Schema, *rules.Env, error) {
	schema := m.o.Schema
	if m.o.CurrentSchema != nil {
		if s := m.o.CurrentSchema(); s != nil {
			schema = s
		}
	}
	m.envMu.Lock()
	defer m.envMu.Unlock()
	if m.env == nil || m.envFor != schema {
		env, err := rules.NewEnv(schema, m.o.Env)
		if err != nil {
			return nil, nil, fmt.Errorf("backtest: rules environment: %w", err)
		}
		m.env, m.envFor = env, schema
	}
	return schema, m.env, nil
}

func newID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "bt-" + hex.EncodeToString(b[:]), nil
}

// schedule starts queued jobs while fewer than MaxRunning run. Called with m.mu held.
func (m *Manager) schedule() {
	for m.running < m.o.MaxRunning && len(m.queue) > 0 && !m.closed {
		j := m.queue[0]
		m.queue = m.queue[1:]
		j.mu.Lock()
		j.state, j.started = Running, time.Now().UTC()
		j.mu.Unlock()
		m.running++
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.run(j)
		}()
	}
}

// stopped records that j has reached a final state (its engine, if any, closed). Called
// with m.mu held.
func (m *Manager) stopped(j *job) {
	j.cancel()
	j.freeze()
	close(j.done)
	m.finished = append(m.finished, j)
	for len(m.finished) > m.o.MaxFinished {
		old := m.finished[0]
		m.finished = m.finished[1:]
		delete(m.jobs, old.id)
		m.all = slices.DeleteFunc(m.all, func(x *job) bool { return x == old })
	}
}

// Get returns a snapshot of backtest id, alerts included.
func (m *Manager) Get(id string) (*Job, error) {
	m.mu.Lock()
	j := m.jobs[id]
	m.mu.Unlock()
	if j == nil {
		return nil, fmt.Errorf("%w %q (finished backtests are kept for a while only)", ErrNotFound, id)
	}
	return j.snapshot(true), nil
}

// List returns snapshots of the queued, running and kept finished backtests, newest
// first, without their alerts.
func (m *Manager) List() []*Job {
	m.mu.Lock()
	js := slices.Clone(m.all)
	m.mu.Unlock()
	out := make([]*Job, 0, len(js))
	for i := len(js) - 1; i >= 0; i-- {
		out = append(out, js[i].snapshot(false))
	}
	return out
}

// Cancel stops backtest id: a queued one never runs; a running one stops at once,
// keeping what it has counted, and Cancel waits for it to stop (or for ctx to end). A
// finished one is left as it is. It returns the backtest's snapshot.
func (m *Manager) Cancel(ctx context.Context, id string) (*Job, error) {
	m.mu.Lock()
	j := m.jobs[id]
	if j == nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	j.mu.Lock()
	state := j.state
	if state == Queued {
		m.queue = slices.DeleteFunc(m.queue, func(x *job) bool { return x == j })
		j.state, j.err, j.stopped = Cancelled, "cancelled before it started", time.Now().UTC()
	} else if state == Running && j.cancelNote == "" {
		j.cancelNote = "cancelled"
	}
	j.mu.Unlock()
	if state == Queued {
		m.stopped(j)
	}
	m.mu.Unlock()
	if state == Running {
		j.cancel()
		select {
		case <-j.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return j.snapshot(true), nil
}

// Close cancels every backtest and waits for the running ones to stop; a call made
// meanwhile waits too. Create fails afterwards.
func (m *Manager) Close() { m.closeOnce.Do(m.shutDown) }

func (m *Manager) shutDown() {
	m.mu.Lock()
	m.closed = true
	for _, j := range m.queue {
		j.mu.Lock()
		j.state, j.err, j.stopped = Cancelled, "cancelled before it started: cepd shut down", time.Now().UTC()
		j.mu.Unlock()
		m.stopped(j)
	}
	m.queue = nil
	for _, j := range m.jobs {
		j.mu.Lock()
		if j.state == Running {
			j.cancelNote = "cancelled: cepd shut down"
		}
		j.mu.Unlock()
	}
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	if m.root != nil {
		m.root.Close()
	}
}
