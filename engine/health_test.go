package engine

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/state"
)

// stallStore is a checkpoint store whose saves wait until the gate opens (a Redis that
// stopped answering).
type stallStore struct {
	state.Store
	gate chan struct{}
}

func (s *stallStore) Save(ctx context.Context, cp *state.Checkpoint) error {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Save(ctx, cp)
}

// TestCheckpointHealthShowsStall: a checkpoint stuck on its store turns health degraded
// within about CheckpointStall, not after the store client's timeouts, and ok again once
// the store answers.
func TestCheckpointHealthShowsStall(t *testing.T) {
	rs := testRuleSet(t)
	store := &stallStore{Store: openStore(t, t.TempDir()), gate: make(chan struct{})}
	e, err := New(Config{Shards: 2}, rs, &sinkCollector{}, &dlqCollector{})
	if err != nil {
		t.Fatal(err)
	}
	e.EnableCheckpoints(store, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.Start(ctx)
	defer e.Close()
	if _, err := e.Restore(ctx, 0, slog.Default()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Ingest(ctx, 0, records(genEvents(3, 5, 50))); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- e.Checkpoint(ctx) }()
	for {
		st, err := e.CheckpointHealth()
		if st == "degraded" && err != nil && strings.Contains(err.Error(), "stalled") {
			break
		}
		if time.Since(start) > CheckpointStall+time.Second {
			t.Fatalf("health after %s of a stalled checkpoint: %s %v", time.Since(start), st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("degraded %s after the checkpoint began", time.Since(start).Round(time.Millisecond))
	close(store.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, err := e.CheckpointHealth(); st != "ok" {
		t.Fatalf("after the store answered: %s %v", st, err)
	}
}
