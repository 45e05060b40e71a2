package backtest

import (
	"context"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
)

// Replay feeds recs (already in event-time order, as Read returns them) on one partition
// through an engine of its own built from cfg and rs, telling sink of every alert and dlq
// of every dead letter, and returns when the engine has matched them all. With
// endOfStream, event time then advances to infinity (Flush), as at the end of any bounded
// stream: open windows close and timeouts fire; without, it stops at a barrier. It is the
// one loop `cepd replay`, `cepd test` and the rule-test API run rules over records with.
func Replay(ctx context.Context, cfg engine.Config, rs *engine.RuleSet, recs []engine.Record, sink alerts.Sink, dlq engine.DeadLetterSink, endOfStream bool) error {
	eng, err := engine.New(cfg, rs, sink, dlq)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	eng.Start(ctx)
	defer eng.Close()
	for i := 0; i < len(recs); i += chunk {
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+chunk, len(recs))]); err != nil {
			return err
		}
	}
	if endOfStream {
		return eng.Flush(ctx)
	}
	return eng.Barrier(ctx)
}
