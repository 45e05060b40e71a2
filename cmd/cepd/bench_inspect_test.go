package main

import (
	"context"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
)

// BenchmarkInspect: one walk of the state statistics (what the admin stats show) over the
// state the reference workload (cepd gen --seed 1 --cards 100000 --events 1000000) leaves
// with the fraud rules; it reports the keys and partial matches walked.
func BenchmarkInspect(b *testing.B) {
	rs := fraudRuleSet(b)
	recs := genRecords(b, 1000000)
	var st engine.StateStats
	walk := func(ctx context.Context, eng *engine.Engine) (err error) {
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if st, err = eng.Inspect(ctx, false); err != nil {
				return err
			}
		}
		b.StopTimer()
		return nil
	}
	r := engine.Runner{Config: engine.Config{Shards: 2, OutOfOrderness: 5 * time.Second}, Rules: rs, Sink: &alerts.Collector{}, DeadLetters: &dlqWriter{}, Matched: walk}
	if err := r.Run(context.Background(), recs); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Keys), "keys")
	b.ReportMetric(float64(st.LiveRuns), "partial_matches")
}
