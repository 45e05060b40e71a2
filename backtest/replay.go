package backtest

import (
	"context"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
)

// Replay feeds recs (already in event-time order, as Read returns them) on one partition
// through an engine of its own built from cfg and rs (engine.Runner, the one loop every
// bounded run goes through), telling sink of every alert and dlq of every dead letter, and
// returns when the engine has matched them all. With endOfStream, event time then advances
// to infinity (Flush), as at the end of any bounded stream: open windows close and
// timeouts fire; without, it stops at a barrier. `cepd replay`, `cepd test` and the
// rule-test API run rules over records with it.
// Rules keyed by another field than the schema's key run in their key space
// (engine.KeySpaces): each key field's events in the same order. With cfg.Log set, the
// events that had no key in a key space are logged there at the end.
func Replay(ctx context.Context, cfg engine.Config, rs *engine.RuleSet, recs []engine.Record, sink alerts.Sink, dlq engine.DeadLetterSink, endOfStream bool) error {
	cfg.KeySpaces = true
	r := engine.Runner{Config: cfg, Rules: rs, Sink: sink, DeadLetters: dlq, Chunk: chunk, EndOfStream: endOfStream}
	return r.Run(ctx, recs)
}
