package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cepd/cepd/engine"
)

// Collector is what Decide needs of the runtime beyond Engine (an *engine.Engine does
// both).
type Collector interface {
	SubmitCollect(ctx context.Context, partition int, recs []engine.Record) (engine.Outcomes, engine.Completions, []engine.RecordError, error)
}

// ErrNoCollector: the engine given to New cannot collect an event's alerts.
var ErrNoCollector = errors.New("this engine cannot answer decisions")

// Decide ingests one event exactly as POST /v1/events does (same numbering, ingest log
// and order) and waits at most timeout for it to be matched, returning the alerts it
// completed. The wait for a busy slot and the log's sync are inside the timeout's reach
// only as far as they take: a saturated instance answers ErrBusy at once.
func (s *Server) Decide(ctx context.Context, ev json.RawMessage, timeout time.Duration) (engine.Decided, error) {
	if s.cfg.NoIngest != "" {
		return engine.Decided{}, fmt.Errorf("%w: %s", errIngestOff, s.cfg.NoIngest)
	}
	col, ok := s.eng.(Collector)
	if !ok {
		return engine.Decided{}, ErrNoCollector
	}
	release, err := s.acquire()
	if err != nil {
		return engine.Decided{}, err
	}
	defer release()
	var completions engine.Completions
	collect := func(ctx context.Context, part int, recs []engine.Record) (engine.Outcomes, []engine.RecordError, error) {
		wait, comp, errs, err := col.SubmitCollect(ctx, part, recs)
		completions = comp
		return wait, errs, err
	}
	wait, errs, code, body := s.submit(ctx, []engine.Record{{Value: ev}}, collect)
	if wait == nil {
		if _, ok := body.(IngestResponse); ok && code == http.StatusAccepted {
			return engine.Decided{Pending: true}, nil // kept in the ingest log: matched after the restart
		}
		if e, ok := body.(errorBody); ok {
			return engine.Decided{}, errors.New(e.Error)
		}
		return engine.Decided{}, fmt.Errorf("ingest answered %d", code)
	}
	if len(errs) > 0 {
		return engine.Decided{Outcome: engine.OutcomeRejected, Error: &errs[0]}, nil
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	out, err := wait(wctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return engine.Decided{Pending: true}, nil
	}
	if err != nil {
		return engine.Decided{}, fmt.Errorf("waiting for the event to be matched: %w", err)
	}
	return engine.Decided{Outcome: out[0], Alerts: completions()[0]}, nil
}

// ErrIngestOff is the error (wrapped) of Decide and Ingest when REST ingest is off on
// this instance (Config.NoIngest).
var ErrIngestOff = errIngestOff
