package backtest

import (
	"testing"
	"time"

	"github.com/cepd/cepd/internal/workload"
)

// BenchmarkBacktest measures a whole backtest of the fraud rule set (read, sort, match,
// flush) over a generated file of 100,000 events, with the label field: events/s is the
// figure an analyst sees.
func BenchmarkBacktest(b *testing.B) {
	dir := b.TempDir()
	cfg := workload.DefaultConfig()
	cfg.Events = 100000
	generate(b, dir, "w.jsonl", cfg)
	for _, shards := range []int{1, 4} {
		b.Run(map[int]string{1: "shards=1", 4: "shards=4"}[shards], func(b *testing.B) {
			m := newManager(b, Options{EventsDir: dir, Shards: shards})
			spec := Spec{Rules: fraudRules(b), EventsFile: "w.jsonl", LabelField: "label"}
			var events int64
			var busy time.Duration
			for b.Loop() {
				j := run(b, m, spec)
				events += j.EventsProcessed
				busy += j.Duration
			}
			b.ReportMetric(float64(events)/busy.Seconds(), "events/s")
		})
	}
}
