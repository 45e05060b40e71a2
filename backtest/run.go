package backtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/rules"
)

// chunk is how many records one Ingest call takes (as in `cepd replay`) and how often
// reading notices cancellation.
const chunk = engine.DefaultChunk

// compile compiles the rules into a rule set with engine.RuleSetBuilder, as the live rule
// set is compiled, and returns their ids in the rules' order (the order results list them
// in). Every compile error of every rule, two rules with one id included, comes back
// together as a patterns.ErrorList.
func compile(rs []Rule, schema *event.Schema, env *rules.Env) (*engine.RuleSet, []string, error) {
	b := engine.NewRuleSetBuilder(schema, env)
	var ids []string
	for _, r := range rs {
		if len(r.Source) == 0 {
			b.Problem(r.Name, "the rule's source is empty")
			continue
		}
		if c := b.Add(r.Name, r.Source, ""); c != nil {
			ids = append(ids, c.Rule.ID)
		}
	}
	set, err := b.Build()
	if err != nil {
		return nil, nil, err
	}
	return set, ids, nil
}

// checkFile reports whether name is a regular file inside the events directory within
// the size bound.
func (m *Manager) checkFile(name string) error {
	f, size, err := m.openFile(name)
	if err != nil {
		return err
	}
	f.Close()
	if size > m.o.MaxFileBytes {
		return fmt.Errorf("%w: events file %q has %d bytes, more than the %d a backtest reads", ErrInvalid, name, size, m.o.MaxFileBytes)
	}
	return nil
}

func (m *Manager) openFile(name string) (fs.File, int64, error) {
	if m.root == nil {
		return nil, 0, ErrNoFiles
	}
	if !filepath.IsLocal(name) {
		return nil, 0, fmt.Errorf("%w: events file %q must be a relative path inside the events directory (no .., not absolute)", ErrInvalid, name)
	}
	// Stat before opening: opening a named pipe would block.
	st, err := m.root.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0, fmt.Errorf("%w: events file %q: no such file in the events directory", ErrInvalid, name)
	case err != nil:
		return nil, 0, fmt.Errorf("%w: events file %q cannot be read: %v", ErrInvalid, name, err)
	case !st.Mode().IsRegular():
		return nil, 0, fmt.Errorf("%w: events file %q is not a regular file", ErrInvalid, name)
	}
	f, err := m.root.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: events file %q cannot be read: %v", ErrInvalid, name, err)
	}
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%w: events file %q changed while being opened", ErrInvalid, name)
	}
	return f, st.Size(), nil
}

// run runs j to its end and records how it ended.
func (m *Manager) run(j *job) {
	err := m.execute(j)
	now := time.Now().UTC()
	m.mu.Lock()
	defer m.mu.Unlock()
	j.mu.Lock()
	switch {
	case err == nil:
		j.state = Done
	case j.ctx.Err() != nil:
		j.state, j.err = Cancelled, cmp.Or(j.cancelNote, "cancelled")
	default:
		j.state, j.err = Failed, err.Error()
	}
	j.stopped = now
	j.mu.Unlock()
	m.running--
	m.stopped(j)
	m.schedule()
}

// execute reads j's input, runs its rules over it and leaves the counts in j.tally.
func (m *Manager) execute(j *job) error {
	ctx := j.ctx
	var lab *labels
	if j.spec.LabelField != "" {
		lab = newLabels(j.spec.LabelField, j.rs)
	}
	recs, err := m.input(ctx, j, lab)
	if err != nil {
		return err
	}
	j.total.Store(int64(len(recs)))
	j.readFrac.Store(1e6)
	t := newTally(j.ids, lab, j.spec.MaxAlerts)
	t.fb = m.o.Feedback
	j.mu.Lock()
	j.tally = t
	j.mu.Unlock()

	r := engine.Runner{Config: engine.Config{Shards: m.o.Shards, Bounds: m.bounds(), KeySpaces: true}, Rules: j.rs, Sink: t, DeadLetters: t,
		Chunk: chunk, EndOfStream: true, Ingested: func(_, n int) { j.processed.Add(int64(n)) }}
	return r.Run(ctx, recs)
}

// input returns j's events in event-time order, recording the labels in lab (if set).
func (m *Manager) input(ctx context.Context, j *job, lab *labels) ([]engine.Record, error) {
	schema := j.rs.Schema // the schema the job's rules were compiled with
	if j.source == SourceRetained {
		recs := m.o.Retainer.Snapshot()
		if lab != nil {
			dec := jsondecode.NewDecoder(schema)
			dec.SetBounds(m.bounds())
			var ev event.Event
			for i, r := range recs {
				if i%chunk == 0 && ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if dec.Decode(r.Value, &ev) == nil {
					lab.add(&ev, r.Value)
				}
			}
		}
		j.read.Store(int64(len(recs)))
		return recs, nil
	}
	name := j.spec.EventsFile
	f, size, err := m.openFile(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > m.o.MaxFileBytes {
		return nil, fmt.Errorf("events file %q has %d bytes, more than the %d a backtest reads", name, size, m.o.MaxFileBytes)
	}
	pr := &progressReader{r: io.LimitReader(f, m.o.MaxFileBytes+1), size: size, j: j}
	recs, err := read(ctx, pr, name, schema, true, func(ev *event.Event, raw []byte) {
		j.read.Add(1)
		if lab != nil && ev != nil {
			lab.add(ev, raw)
		}
	})
	if err != nil {
		return nil, err
	}
	if pr.n > m.o.MaxFileBytes {
		return nil, fmt.Errorf("events file %q grew past the %d bytes a backtest reads", name, m.o.MaxFileBytes)
	}
	return recs, nil
}

// progressReader counts the bytes read and publishes the share of the file read.
type progressReader struct {
	r    io.Reader
	n    int64
	size int64
	j    *job
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.size > 0 {
		p.j.readFrac.Store(uint64(min(p.n, p.size) * 1e6 / p.size))
	}
	return n, err
}

// bounds are what a backtest's events are held to: the live string bound (the one its
// CEL environment assumes), and no wall clock (the events are historical).
func (m *Manager) bounds() event.Bounds { return event.Bounds{MaxString: m.o.Env.MaxStringSize} }
