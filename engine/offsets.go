package engine

import (
	"context"
	"fmt"
	"iter"
	"math"

	"github.com/cepd/cepd/nfa"
)

// SafeOffset returns the offset from which re-reading partition part would rebuild all of
// its live state: the offset of the oldest event any of its keys still holds (in a
// partial match or in its journal), or, when nothing is held, one past the
// last record ingested. Everything ingested before the call has been processed when it
// returns. A source that commits this offset (and delivers the alerts made so far before
// committing) loses nothing when another instance takes the partition over: the new owner
// re-derives the partial matches, and any alert it derives again has the same id.
// It returns -1 when the partition has not been seen.
func (e *Engine) SafeOffset(ctx context.Context, part int) (int64, error) {
	e.mu.Lock()
	p := e.parts[part]
	e.mu.Unlock()
	if p == nil {
		return -1, nil
	}
	p.mu.Lock()
	next := p.lastOffset + 1
	p.mu.Unlock()
	if err := e.Barrier(ctx); err != nil {
		return 0, err
	}
	oldest := int64(math.MaxInt64)
	err := e.onShards(ctx, func(s *shard) {
		for _, ks := range s.keys {
			if ks.part.id != int32(part) {
				continue
			}
			for _, it := range ks.pending() {
				oldest = min(oldest, it.ev.Offset)
			}
			for _, ms := range []iter.Seq2[int, *nfa.Matcher]{ks.m.all(), denseAll(ks.baseMatchers())} {
				for _, m := range ms {
					oldest = min(oldest, m.OldestOffset())
				}
			}
		}
	})
	if err != nil {
		return 0, err
	}
	return min(oldest, next), nil
}

// RemovePartition discards the state of partition part's keys (after its work has been
// finished, e.g. on a rebalance that revokes it) and forgets the partition.
func (e *Engine) RemovePartition(ctx context.Context, part int) error {
	e.mu.Lock()
	p := e.parts[part]
	delete(e.parts, part)
	e.mu.Unlock()
	if p != nil {
		// No idle message about it may follow its removal from the shards.
		p.mu.Lock()
		p.removed = true
		p.mu.Unlock()
	}
	if err := e.Barrier(ctx); err != nil {
		return err
	}
	if err := e.onShards(ctx, func(s *shard) { s.dropPartition(int32(part)) }); err != nil {
		return err
	}
	for _, c := range e.fedSpaces() { // they ingest the partition's records too
		if err := c.eng.RemovePartition(ctx, part); err != nil {
			return fmt.Errorf("key space %s: %w", c.field, err)
		}
	}
	return nil
}

// dropPartition forgets partition part on the shard: its keys, its clock and its
// changed keys (the next owner has its own state).
func (s *shard) dropPartition(part int32) {
	for _, ks := range s.keys {
		if ks.part.id == part {
			s.release(ks)
		}
	}
	s.dropClock(part)
	delete(s.dirty, part)
	s.recomputeGlobal(unstamped)
}

// onShards runs fn on every shard goroutine in turn (fn may write shared variables: the
// calls do not overlap).
func (e *Engine) onShards(ctx context.Context, fn func(s *shard)) error {
	for _, s := range e.shards {
		done := make(chan struct{})
		if err := s.send(ctx, msg{kind: msgInspect, fn: fn, done: done}); err != nil {
			return err
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
