package engine

import (
	"context"
	"testing"
	"time"
)

// TestHandOffToWaitingShard: a shard waiting on an empty queue gets the events an Ingest
// call has decoded so far at once (shard.handOff), not when the call ends. The call is
// held in its Tap at the second record until the shard has matched the first: without the
// early hand-off the first event would still be in the call's batch and the wait would
// time out.
func TestHandOffToWaitingShard(t *testing.T) {
	rs := testRuleSet(t)
	recs := records(genEvents(1, 5, 10))
	var eng *Engine
	seen, early := 0, false
	tap := func(int, string, int64, []byte) {
		seen++
		if seen != 2 {
			return
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if eng.stats.shard[0].matched.Load() >= 1 {
				early = true
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
	for !eng.shards[0].waiting.Load() { // the shard goroutine reaches its empty queue
		time.Sleep(time.Millisecond)
	}
	if _, err := eng.Ingest(ctx, 0, recs); err != nil {
		t.Fatal(err)
	}
	if !early {
		t.Fatal("the waiting shard did not get the first event before the Ingest call ended")
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if n := eng.stats.shard[0].matched.Load(); n != uint64(len(recs)) {
		t.Fatalf("%d events matched, want %d", n, len(recs))
	}
	// the early batch and the rest of the call each waited in the queue (Stats' queue wait)
	if sn := eng.Stats().Snapshot(); sn.QueueN < 2 {
		t.Fatalf("%d batches in the queue-wait histogram, want at least 2", sn.QueueN)
	}
}
