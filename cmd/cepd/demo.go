package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/workload"
)

// demoPartition is the engine partition the demo feeds (REST ingest uses 0).
const demoPartition = 1

// runDemo feeds the synthetic reference workload into the engine at rate events/s
// (positive: checkServeOptions refuses anything else), starting after the restored state
// of the demo partition (so nothing is late).
func runDemo(ctx context.Context, eng *engine.Engine, rate int) error {
	meta, err := eng.Restore(ctx, demoPartition, slog.Default())
	if err != nil {
		return err
	}
	cfg := workload.DefaultConfig()
	cfg.Events = 1 << 40
	cfg.LateRate = 0
	g, err := workload.New(cfg)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// The demo stream is deterministic: after a restart it resumes right after the last
	// checkpointed event, so the restored partial matches see the events that follow.
	offset := max(meta.Offset, 0)
	var buf []byte
	for i := int64(0); i < offset; i++ {
		buf, _ = g.Next(buf[:0])
	}
	if meta.Found {
		st := eng.CheckpointStats()
		slog.Info("demo: state restored; resuming the stream", "from_event", offset+1, "partial_matches_restored", st.Restored)
	}
	slog.Info("demo: feeding the synthetic card workload", "events_per_sec", rate, "fraud_rate", cfg.FraudRate)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	per := max(rate/10, 1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		recs := make([]engine.Record, 0, per)
		for len(recs) < per {
			line, ok := g.Next(nil)
			if !ok {
				return nil
			}
			offset++
			recs = append(recs, engine.Record{Value: line, Offset: offset})
		}
		if _, err := eng.Ingest(ctx, demoPartition, recs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("demo: %w", err)
		}
	}
}
