package engine

import (
	"context"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

type nopSink struct{}

func (nopSink) Alert(*alerts.Alert) {}

type nopDLQ struct{}

func (nopDLQ) DeadLetter(DeadLetter) {}

// BenchmarkEngine runs the whole runtime (decode, order, shard, match, alert) over the
// test rule set; one op is one event.
func BenchmarkEngine(b *testing.B) {
	rs := testRuleSet(b)
	for _, shards := range []int{1, 2} {
		b.Run(map[int]string{1: "shards=1", 2: "shards=2"}[shards], func(b *testing.B) {
			recs := records(genEvents(3, 5000, b.N))
			eng, err := New(Config{Shards: shards}, rs, nopSink{}, nopDLQ{})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			eng.Start(ctx)
			defer eng.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 512 {
				if _, err := eng.Ingest(ctx, 0, recs[i:min(i+512, b.N)]); err != nil {
					b.Fatal(err)
				}
			}
			if err := eng.Barrier(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
