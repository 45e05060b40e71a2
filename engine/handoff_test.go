package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestHandOffToWaitingShard: a shard waiting on an empty queue gets the events an Ingest
// call has decoded so far at once (shard.handOff), not when the call ends, in every call
// (partition.handOffEarly starts each call at one event). Each call is held in its Tap at
// its second record until the shard has matched the call's first: without the early
// hand-off the first event would still be in the call's batch and the wait would time
// out.
func TestHandOffToWaitingShard(t *testing.T) {
	rs := testRuleSet(t)
	recs := records(genEvents(1, 5, 30))
	var eng *Engine
	seen, want, early := 0, uint64(0), 0
	tap := func(int, string, int64, []byte) {
		seen++
		if seen != 2 {
			return
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if eng.stats.shard[0].matched.Load() >= want {
				early++
				return
			}
		}
	}
	eng, err := New(Config{Shards: 1, Tap: tap}, rs, &sinkCollector{}, &dlqCollector{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng.Start(ctx)
	defer eng.Close()
	const calls = 3
	for call := range calls {
		if err := eng.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		for !eng.shards[0].waiting.Load() { // the shard goroutine reaches its empty queue
			time.Sleep(time.Millisecond)
		}
		n := len(recs) / calls
		seen, want = 0, uint64(call*n+1)
		if _, err := eng.Ingest(ctx, 0, recs[call*n:(call+1)*n]); err != nil {
			t.Fatal(err)
		}
		if early != call+1 {
			t.Fatalf("call %d: the waiting shard did not get the call's first event before the call ended", call)
		}
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if n := eng.stats.shard[0].matched.Load(); n != uint64(len(recs)) {
		t.Fatalf("%d events matched, want %d", n, len(recs))
	}
	// each call's early batch and the rest of it each waited in the queue (Stats' queue wait)
	if sn := eng.Stats().Snapshot(); sn.QueueN < 2*calls {
		t.Fatalf("%d batches in the queue-wait histogram, want at least %d", sn.QueueN, 2*calls)
	}
}

// TestShardStopsWithItsContext: a shard whose context ends stops although its queue is
// never empty (a backlog it cannot catch up with). shard.run must watch the context at
// every message, as it did before the hand-off, not only when it waits on an empty
// queue: else a feeder that keeps the queue full keeps the shard working after the end
// of its context, and the feeder's sends never learn that the engine stopped.
func TestShardStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background()) // the shard's: cancelled below
	defer cancel()
	eng, err := New(Config{Shards: 1, QueueSize: 2}, testRuleSet(t), &sinkCollector{}, &dlqCollector{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	eng.Start(ctx)
	s := eng.shards[0]
	slow := func(*shard) { time.Sleep(100 * time.Microsecond) } // slower than the feeder
	stop, fed := make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				fed <- nil
				return
			default:
			}
			// not the shard's context: a caller of its own (a request, another run)
			if err := s.send(context.Background(), msg{kind: msgInspect, fn: slow, done: make(chan struct{})}); err != nil {
				fed <- err
				return
			}
		}
	}()
	for len(s.in) < cap(s.in) { // a backlog
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-fed:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("the feeder got %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		close(stop)
		<-fed
		t.Fatal("the shard still took messages 5 s after its context ended")
	}
}
