package bench

import (
	"context"
	"fmt"

	"github.com/cepd/cepd/engine"
)

// AtHalfRate measures the detection latency the issue asks for: Run as fast as possible
// (the maximum rate), then the same records offered at half that rate, paced in real time
// (c.Rate is ignored). The result is the first run's, with the paced run's in its
// AtHalfRate: its latency percentiles are those of every alert, from the ingest of the
// event that completed it to the alert reaching the sink, in process.
func AtHalfRate(ctx context.Context, rs *engine.RuleSet, recs []engine.Record, c Config) (*Result, error) {
	c.Rate = 0
	top, err := Run(ctx, rs, recs, c)
	if err != nil {
		return nil, err
	}
	c.Rate = int(top.EventsPerSec / 2)
	if c.Rate <= 0 {
		return nil, fmt.Errorf("half rate: the maximum rate measured %.1f events/s", top.EventsPerSec)
	}
	if top.AtHalfRate, err = Run(ctx, rs, recs, c); err != nil {
		return nil, fmt.Errorf("half rate (%d events/s): %w", c.Rate, err)
	}
	return top, nil
}
