package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestCallsAfterClose: calls racing the engine's Close (an API request during a
// shutdown) get ErrClosed or finish; none panics on a closed shard queue.
func TestCallsAfterClose(t *testing.T) {
	rs := testRuleSet(t)
	recs := records(genEvents(3, 20, 400))
	for i := range 20 {
		e, err := New(Config{Shards: 2}, rs, &sinkCollector{}, &dlqCollector{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		e.Start(ctx)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; ; j++ {
					var err error
					switch (w + j) % 3 {
					case 0:
						_, err = e.Ingest(ctx, w, recs[(j*10)%390:(j*10)%390+10])
					case 1: // a rule set of its own, as every swap has (the engine takes it over)
						_, err = e.SwapRules(ctx, &RuleSet{Schema: rs.Schema, Rules: rs.Rules, Slots: rs.Slots})
					default:
						err = e.Barrier(ctx)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		if i%2 == 0 {
			_ = e.Barrier(ctx)
		}
		e.Close()
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("a call racing Close: %v, want ErrClosed", err)
			}
		}
	}
}
