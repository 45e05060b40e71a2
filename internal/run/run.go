package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Group is a list of stages stopped in the order they were added.
type Group struct {
	log    *slog.Logger
	stages []*Stage
	ended  chan ended // the first goroutine to return before the stop
	once   sync.Once
}

type ended struct {
	name string
	err  error
}

// Stage is a set of goroutines stopped together, or a step run at stop.
type Stage struct {
	g      *Group
	name   string
	limit  time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	step   func(ctx context.Context) error

	mu   sync.Mutex
	errs []error
}

// New returns an empty group logging to log (nil: slog.Default()).
func New(log *slog.Logger) *Group {
	if log == nil {
		log = slog.Default()
	}
	return &Group{log: log, ended: make(chan ended, 1)}
}

// Stage adds a stage of goroutines: at stop their context is cancelled and they are
// waited for, at most limit.
func (g *Group) Stage(name string, limit time.Duration) *Stage {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stage{g: g, name: name, limit: limit, ctx: ctx, cancel: cancel}
	g.stages = append(g.stages, s)
	return s
}

// Then adds a step: fn runs at stop, after the stages added before it, with a context
// that ends after limit.
func (g *Group) Then(name string, limit time.Duration, fn func(ctx context.Context) error) {
	g.stages = append(g.stages, &Stage{g: g, name: name, limit: limit, step: fn})
}

// Go runs fn on a goroutine of the stage. fn must return once ctx ends; an error it
// returns is the group's error. A goroutine returning before the stop begins (with or
// without an error) stops the group.
func (s *Stage) Go(name string, fn func(ctx context.Context) error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := fn(s.ctx)
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
		}
		if s.ctx.Err() == nil {
			select {
			case s.g.ended <- ended{name, err}:
			default:
			}
		}
	}()
}

// Context is the stage's context: it ends when the stage stops.
func (s *Stage) Context() context.Context {
	if s.ctx == nil {
		return context.Background()
	}
	return s.ctx
}

// Run waits until ctx ends or a goroutine of the group returns, then stops every stage in
// order (Stop). It returns the errors of the group's goroutines (a context.Canceled from
// one that was stopped is not an error); a stop step that fails or overruns is logged,
// not returned: the stop goes on, and the process was asked to stop either way.
func (g *Group) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		g.log.Info("stopping", "reason", context.Cause(ctx))
	case e := <-g.ended:
		g.log.Info("stopping", "reason", fmt.Sprintf("%s returned", e.name), "err", e.err)
	}
	g.Stop()
	var errs []error
	for _, s := range g.stages {
		errs = append(errs, s.goErrs())
	}
	return errors.Join(errs...)
}

// Stop stops every stage in order (once; later calls return nil at once) and returns
// every stage's error, each also logged.
func (g *Group) Stop() error {
	var errs []error
	g.once.Do(func() {
		for i, s := range g.stages {
			began := time.Now()
			err := s.stop()
			args := []any{"step", fmt.Sprintf("%d/%d", i+1, len(g.stages)), "stage", s.name, "took", time.Since(began).Round(time.Millisecond)}
			if err != nil {
				g.log.Warn("stop step failed", append(args, "err", err)...)
				errs = append(errs, err)
				continue
			}
			g.log.Info("stop step done", args...)
		}
	})
	return errors.Join(errs...)
}

// ErrOverrun is returned for a stage that did not stop within its bound.
var ErrOverrun = errors.New("did not stop in time")

func (s *Stage) stop() error {
	if s.step != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.limit)
		defer cancel()
		if err := s.step(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		return nil
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(s.limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return fmt.Errorf("%s: %w (%s)", s.name, ErrOverrun, s.limit)
	}
	return s.goErrs()
}

// goErrs returns the errors the stage's goroutines returned, but context.Canceled.
func (s *Stage) goErrs() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, err := range s.errs {
		if !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
