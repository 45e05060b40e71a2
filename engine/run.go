package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/state"
)

// DefaultChunk is how many records one Ingest call of a Runner takes when Chunk is not
// set; cancellation is noticed between chunks at the latest.
const DefaultChunk = 4096

// Runner runs an engine of its own over bounded input. It is the one loop every bounded
// run goes through (`cepd replay`, `cepd bench`, backtests, rule tests, and the tests that
// compare them with live ingest): New → Start → each partition's records in chunks, the
// partitions concurrently → Barrier → Matched → Flush (with EndOfStream) → Close.
type Runner struct {
	Config      Config
	Rules       *RuleSet
	Sink        alerts.Sink
	DeadLetters DeadLetterSink
	// Chunk is the number of records per Ingest call (DefaultChunk when 0).
	Chunk int
	// Rate, when above 0, paces the input at that many records per second over all
	// partitions (each partition its share); 0 feeds as fast as the engine takes them.
	Rate int
	// EndOfStream advances event time to infinity after the last record (Flush), as at the
	// end of any bounded stream: open windows close and timeouts fire. Without, the run
	// ends at the barrier after the last record.
	EndOfStream bool
	// Store and CheckpointEvery, when both set, checkpoint the state to Store that often
	// during the run.
	Store           state.Store
	CheckpointEvery time.Duration
	// Started, if set, is called once the engine runs, before the first record.
	Started func(e *Engine)
	// Ingested, if set, is told of every chunk ingested: its partition and size. Called
	// from the partitions' goroutines, concurrently.
	Ingested func(partition, n int)
	// Behind, if set, is told for every chunk Rate paces how long after its due time its
	// Ingest call began (at most the sleep's overshoot while the engine keeps up; more
	// once a call before it waited on full shard queues). An alert's latency counts from
	// its event's Ingest call, so time a chunk spent behind schedule is not in it: this
	// is. Called from the partitions' goroutines, concurrently.
	Behind func(partition int, late time.Duration)
	// Beside, if set, runs in a goroutine of its own while the records are ingested; stop
	// is closed once the last record is ingested, and Run waits for it to return. Its
	// error fails the run.
	Beside func(ctx context.Context, stop <-chan struct{}, e *Engine) error
	// Matched, if set, is called once every record has been matched (after a barrier),
	// before the end of the stream. Its error fails the run.
	Matched func(ctx context.Context, e *Engine) error
}

// Run feeds parts[p] to partition p, each partition's records in their order, and
// returns when they are all matched (and, with EndOfStream, flushed): every alert has
// reached the Sink and every dead letter the DeadLetters sink by then.
func (r *Runner) Run(ctx context.Context, parts ...[]Record) error {
	eng, err := New(r.Config, r.Rules, r.Sink, r.DeadLetters)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer func() {
		cancel()
		bg.Wait()
		eng.Close()
	}()
	checkpoints := r.Store != nil && r.CheckpointEvery > 0
	if checkpoints {
		eng.EnableCheckpoints(r.Store, nil)
	}
	eng.Start(ctx)
	if checkpoints {
		bg.Go(func() { eng.RunCheckpoints(ctx, r.CheckpointEvery, slog.Default()) })
	}
	if r.Started != nil {
		r.Started(eng)
	}
	if err := r.ingest(ctx, eng, parts); err != nil {
		return err
	}
	if err := eng.Barrier(ctx); err != nil {
		return err
	}
	if r.Matched != nil {
		if err := r.Matched(ctx, eng); err != nil {
			return err
		}
	}
	if r.EndOfStream {
		if err := eng.Flush(ctx); err != nil {
			return err
		}
	}
	if r.Config.KeySpaces && r.Config.Log != nil {
		eng.LogMissing(r.Config.Log)
	}
	return nil
}

// ingest feeds every partition concurrently (and runs Beside) until all are fed.
func (r *Runner) ingest(ctx context.Context, eng *Engine, parts [][]Record) error {
	errs := make([]error, len(parts)+1)
	stop := make(chan struct{})
	var beside sync.WaitGroup
	if r.Beside != nil {
		beside.Go(func() { errs[len(parts)] = r.Beside(ctx, stop, eng) })
	}
	var wg sync.WaitGroup
	for p, recs := range parts {
		wg.Go(func() { errs[p] = r.feed(ctx, eng, p, recs, len(parts)) })
	}
	wg.Wait()
	close(stop)
	beside.Wait()
	for _, err := range errs {
		if err != nil {
			return err // the first partition's, as a one-partition run would say
		}
	}
	return nil
}

// feed ingests one partition's records in chunks, paced by Rate.
func (r *Runner) feed(ctx context.Context, eng *Engine, p int, recs []Record, nparts int) error {
	chunk := r.Chunk
	if chunk <= 0 {
		chunk = DefaultChunk
	}
	perPart := float64(r.Rate) / float64(nparts)
	t0 := time.Now()
	for i := 0; i < len(recs); i += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		if perPart > 0 {
			due := t0.Add(time.Duration(float64(i) / perPart * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
			if r.Behind != nil {
				r.Behind(p, time.Since(due))
			}
		}
		part := recs[i:min(i+chunk, len(recs))]
		if _, err := eng.Ingest(ctx, p, part); err != nil {
			return err
		}
		if r.Ingested != nil {
			r.Ingested(p, len(part))
		}
	}
	return nil
}
