package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkVelocityHotKey: one key sending an event every 2 ms on average, in order,
// under an out-of-orderness of 2 s: the key's journal holds ~1,000 events all the
// time, and each watermark step folds its oldest into the base (the velocity log's
// oldest segments forgotten); with swaps, a third of the key's events arrive after the
// next one (each re-matches the ~1,000-event journal). One op is one event.
//
//	go test ./engine -run '^$' -bench VelocityHotKey -benchtime 20000x
func BenchmarkVelocityHotKey(b *testing.B) {
	b.Run("in-order", func(b *testing.B) { benchHotKey(b, false) })
	b.Run("swaps", func(b *testing.B) { benchHotKey(b, true) })
}

func benchHotKey(b *testing.B, swaps bool) {
	rs := testRulesOf(b, velocityRules...) // the velocity rules only: their cost, not the matchers'
	r := rand.New(rand.NewPCG(8, 9))
	evs := make([]testEvent, b.N)
	kinds := []string{"auth", "auth", "auth", "capture", "refund", "login"}
	ts := int64(1_700_000_000_000)
	for i := range evs {
		ts += int64(r.IntN(5))
		evs[i] = testEvent{ID: fmt.Sprintf("e%d", i), Card: "c0", TS: ts, Kind: kinds[r.IntN(len(kinds))], Amount: []float64{1, 2.5, 4, 50, 120, 800}[r.IntN(6)]}
	}
	if swaps {
		evs = swapWithinKey(evs, rand.New(rand.NewPCG(10, 11)), 2*time.Second)
	}
	recs := records(evs)
	eng, ctx := benchEngine(b, Config{Shards: 1, OutOfOrderness: 2 * time.Second}, rs)
	b.ResetTimer()
	feedAll(b, ctx, eng, recs, 64)
	b.StopTimer()
	// log-B: the bytes of the key's velocity log (what its base costs); state-B: of its
	// aggregates (what a copy of them would)
	var logB, stateB int
	if err := eng.onShards(ctx, func(s *shard) {
		ks := s.keys["c0"]
		if ks == nil || ks.vel == nil {
			return
		}
		for _, a := range ks.vel.aggs {
			if a != nil {
				stateB += a.Footprint()
			}
		}
		if b := ks.velBase(); b != nil && b.jour.log != nil {
			logB = b.jour.log.Footprint()
		}
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(logB), "log-B")
	b.ReportMetric(float64(stateB), "state-B")
}
