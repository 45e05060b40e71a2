package engine

import (
	"context"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
)

// TestSwapReachesEveryShardPastDeadline: a rule swap whose caller's deadline passes while
// a shard's queue is full still reaches every shard, in every key space. Before, the
// swap stopped sending at the deadline: the engine reported the new rule set while the
// busy shard (or every key space after it) went on matching by the old one, and nothing
// ever swapped it.
func TestSwapReachesEveryShardPastDeadline(t *testing.T) {
	schema, err := event.ParseSchema([]byte(keySpaceSchema))
	if err != nil {
		t.Fatal(err)
	}
	rules := func() *RuleSet { return compileRules(t, schema, keySpaceRules) }
	for _, spaces := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		e, err := New(Config{Shards: 2, QueueSize: 1, KeySpaces: spaces}, rules(), &sinkCollector{}, &dlqCollector{})
		if err != nil {
			t.Fatal(err)
		}
		e.Start(ctx)
		defer e.Close()
		engines := []*Engine{e}
		for _, c := range e.fedSpaces() {
			engines = append(engines, c.eng)
		}
		var olds []*RuleSet
		for _, en := range engines {
			olds = append(olds, en.cur.Load())
		}
		busy := engines[0].shards[1] // the first key space's: the others come after it
		release := make(chan struct{})
		for range 2 { // one message blocks the shard, the next fills its queue
			if err := busy.send(ctx, msg{kind: msgInspect, fn: func(*shard) { <-release }, done: make(chan struct{})}); err != nil {
				t.Fatal(err)
			}
		}
		go func() {
			time.Sleep(300 * time.Millisecond)
			close(release)
		}()
		swapCtx, swapCancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err = e.SwapRules(swapCtx, rules()) // may report the deadline: the swap is under way
		swapCancel()
		t.Logf("key spaces %v: swap: %v", spaces, err)
		for k, en := range engines {
			if en.cur.Load() == olds[k] {
				t.Errorf("key spaces %v: key space %d was not swapped", spaces, k)
			}
			if err := en.Barrier(ctx); err != nil {
				t.Fatal(err)
			}
			got := make([]*RuleSet, len(en.shards))
			if err := en.onShards(ctx, func(s *shard) { got[s.id] = s.rules }); err != nil {
				t.Fatal(err)
			}
			for i, r := range got {
				if r != en.cur.Load() {
					t.Errorf("key spaces %v: key space %d, shard %d matches by another rule set than its engine's after the swap", spaces, k, i)
				}
			}
		}
		if spaces && len(engines) < 2 {
			t.Fatal("the key-space engine has no other key space: the test needs one")
		}
	}
}
