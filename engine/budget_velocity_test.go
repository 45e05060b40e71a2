package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// hotVelocityKey feeds n events of one card, a few milliseconds apart (so that its
// journal, within a 2 s out-of-orderness, holds hundreds of events and its velocity log
// grows with them), to an engine of the velocity rules with the given memory budget, and
// returns, after each chunk of 64, the accounted bytes and the bytes the key's velocity
// log takes.
func hotVelocityKey(t *testing.T, n int, budget int64) (accounted, logs []int64) {
	t.Helper()
	r := rand.New(rand.NewPCG(8, 9))
	kinds := []string{"auth", "auth", "auth", "capture", "refund", "login"}
	evs := make([]testEvent, n)
	ts := int64(1_700_000_000_000)
	for i := range evs {
		ts += int64(r.IntN(5))
		evs[i] = testEvent{ID: fmt.Sprintf("e%d", i), Card: "c0", TS: ts, Kind: kinds[r.IntN(len(kinds))], Amount: []float64{1, 2.5, 4, 50, 120, 800}[r.IntN(6)]}
	}
	recs := records(evs)
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: 2 * time.Second, MemoryBudget: budget}, testRulesOf(t, velocityRules...), &sinkCollector{}, &dlqCollector{})
	defer stop()
	for i := 0; i < len(recs); i += 64 {
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+64, len(recs))]); err != nil {
			t.Fatal(err)
		}
		lb := keyLogBytes(t, ctx, eng, "c0")
		accounted = append(accounted, eng.Stats().Snapshot().MemoryBytes)
		logs = append(logs, lb)
	}
	return accounted, logs
}

// keyLogBytes is what key's velocity log takes (after everything ingested before).
func keyLogBytes(t *testing.T, ctx context.Context, eng *Engine, key string) int64 {
	t.Helper()
	var n int64
	if err := eng.onShards(ctx, func(s *shard) {
		if ks := s.keys[key]; ks != nil {
			n = int64(ks.velLogBytes())
		}
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBudgetCountsVelocityLog: the engine's account holds what a key's velocity log takes
// (before, only its matchers: a hot key's log of megabytes went uncounted).
func TestBudgetCountsVelocityLog(t *testing.T) {
	accounted, logs := hotVelocityKey(t, 2000, 0)
	last := len(logs) - 1
	if logs[last] < 100<<10 {
		t.Fatalf("the hot key's log takes %d bytes: too small to tell", logs[last])
	}
	for i := range logs {
		if accounted[i] < logs[i] {
			t.Fatalf("after chunk %d the account holds %d bytes, less than the key's velocity log (%d)", i, accounted[i], logs[i])
		}
	}
}

// TestBudgetBoundsVelocityLog: with a budget smaller than a hot key's velocity log, the
// key's journal is folded when it is over: the log, and the account, stay near the
// budget instead of growing with the journal (to megabytes without the bound).
func TestBudgetBoundsVelocityLog(t *testing.T) {
	const budget = 256 << 10
	accounted, logs := hotVelocityKey(t, 2000, budget)
	// one chunk of events can add to the log past the budget before the key is settled
	// over it: 64 events of a few kilobytes each
	const slack = 64 * 4 << 10
	for i := range logs {
		if logs[i] > budget+slack || accounted[i] > budget+slack {
			t.Fatalf("after chunk %d the key's velocity log takes %d bytes and the account %d, over the budget %d (+%d)", i, logs[i], accounted[i], budget, slack)
		}
	}
}
