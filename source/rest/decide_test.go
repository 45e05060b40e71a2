package rest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/state/ingestlog"
)

// slowCollector is an engine whose matching never finishes: every wait lasts until its
// context ends.
type slowCollector struct{ recorder }

func (s *slowCollector) SubmitCollect(ctx context.Context, part int, recs []engine.Record) (engine.Outcomes, engine.Completions, []engine.RecordError, error) {
	if _, _, err := s.Submit(ctx, part, recs); err != nil {
		return nil, nil, nil, err
	}
	wait := func(ctx context.Context) ([]engine.Outcome, error) { <-ctx.Done(); return nil, ctx.Err() }
	return wait, func() [][]engine.Completed { return nil }, nil, nil
}

// TestDecideBounds: an event not matched within the timeout is answered pending (after
// being numbered and logged like any other, so it is matched, not lost); an instance
// without REST ingest, or an engine that cannot collect, refuses.
func TestDecideBounds(t *testing.T) {
	l, err := ingestlog.Open(filepath.Join(t.TempDir(), "log"), ingestlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	eng := &slowCollector{}
	s := New(Config{Log: l}, eng, nil, slog.Default(), nil)
	start := time.Now()
	d, err := s.Decide(context.Background(), json.RawMessage(`{"event_id":"x"}`), 100*time.Millisecond)
	if err != nil || !d.Pending {
		t.Fatalf("decide: %+v %v", d, err)
	}
	if took := time.Since(start); took < 100*time.Millisecond || took > 5*time.Second {
		t.Fatalf("answered after %s, want the timeout", took)
	}
	if len(eng.recs) != 1 || eng.recs[0].Offset != 1 {
		t.Fatalf("the engine got %+v", eng.recs)
	}
	n := 0
	if err := l.Replay(0, 100, func(rs []ingestlog.Record) error { n += len(rs); return nil }); err != nil || n != 1 {
		t.Fatalf("logged %d events (%v), want 1", n, err)
	}

	off := New(Config{NoIngest: "kafka"}, eng, nil, slog.Default(), nil)
	if _, err := off.Decide(context.Background(), json.RawMessage(`{}`), time.Second); !errors.Is(err, ErrIngestOff) {
		t.Fatalf("ingest off: %v", err)
	}
	plain := New(Config{}, &recorder{}, nil, slog.Default(), nil)
	if _, err := plain.Decide(context.Background(), json.RawMessage(`{}`), time.Second); !errors.Is(err, ErrNoCollector) {
		t.Fatalf("no collector: %v", err)
	}
}
