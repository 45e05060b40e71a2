package engine

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/state"
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
			eng, ctx := benchEngine(b, Config{Shards: shards}, rs)
			b.ReportAllocs()
			b.ResetTimer()
			feedAll(b, ctx, eng, recs, 512)
		})
	}
}

// BenchmarkCheckpointKey: what checkpointing costs per changed key: the export, on the
// shard goroutine (matching waits for it), and the encoding, on the checkpointer's.
func BenchmarkCheckpointKey(b *testing.B) {
	rs := testRuleSet(b)
	recs := records(genEvents(21, 20000, 200000))
	ctx := context.Background()
	e, err := New(Config{Shards: 1}, rs, nopSink{}, nopDLQ{})
	if err != nil {
		b.Fatal(err)
	}
	e.Start(ctx)
	defer e.Close()
	for i := 0; i < len(recs); i += 1000 {
		if _, err := e.Ingest(ctx, 0, recs[i:min(i+1000, len(recs))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.Barrier(ctx); err != nil {
		b.Fatal(err)
	}
	var exports []*state.KeyState
	b.Run("export", func(b *testing.B) {
		e.onShards(ctx, func(s *shard) {
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				exports = append(exports[:0], s.exportKey(s.list[i%len(s.list)]))
			}
		})
	})
	e.onShards(ctx, func(s *shard) {
		exports = exports[:0]
		for _, ks := range s.list {
			exports = append(exports, s.exportKey(ks))
		}
	})
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		for i := 0; i < b.N; i++ {
			buf = state.AppendKeyState(buf[:0], exports[i%len(exports)], rs.Schema)
		}
	})
}

// BenchmarkVelocity runs the velocity rules (every aggregate function, a group, both
// rearm policies) with the test rules, one op an event, over 5 keys (a key's event every
// second on average, so the 20 s–2 min windows hold 20–120 entries): in order, and with
// every event delayed by up to 2 s under an out-of-orderness of 3 s, so that keys start
// journals and re-match (the cost of the velocity base and of re-matching). The wide
// cases add a rule whose aggregates hold much per key: a distinct count of event ids
// and a count by event id over an hour (up to 1,024 values and 256 groups a key).
// cpu-ns/op is the process's CPU time per event, steadier than wall time on a shared
// machine.
//
//	go test ./engine -run '^$' -bench Velocity -benchmem -benchtime 20000x
func BenchmarkVelocity(b *testing.B) {
	for _, wide := range []bool{false, true} {
		srcs := velocityRules
		name := ""
		if wide {
			srcs = append(slices.Clone(srcs), wideVelocityRule)
			name = "wide-"
		}
		rs := testRulesOf(b, append(srcs, testRules...)...)
		for _, ooo := range []bool{false, true} {
			b.Run(name+map[bool]string{false: "in-order", true: "out-of-order"}[ooo], func(b *testing.B) {
				benchVelocity(b, rs, ooo)
			})
		}
	}
}

// wideVelocityRule's aggregates hold much per key (BenchmarkVelocity).
const wideVelocityRule = `
id: many-ids
aggregates:
  - {name: ids, function: distinct, field: id, window: 1h}
  - {name: per_id, function: count, by: id, window: 1h}
pattern:
  - name: a
    where: e.kind == 'refund' && agg.ids > 5000
`

func benchVelocity(b *testing.B, rs *RuleSet, ooo bool) {
	evs := genEvents(41, 5, b.N)
	cfg := Config{Shards: 1}
	if ooo {
		r := rand.New(rand.NewPCG(6, 7))
		at := make(map[string]int64, len(evs))
		for _, e := range evs {
			at[e.ID] = e.TS + int64(r.IntN(2000))
		}
		sort.SliceStable(evs, func(i, j int) bool { return at[evs[i].ID] < at[evs[j].ID] })
		cfg.OutOfOrderness = 3 * time.Second
	}
	recs := records(evs)
	eng, ctx := benchEngine(b, cfg, rs)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNanos()
	feedAll(b, ctx, eng, recs, 512)
	b.StopTimer()
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
	if st := eng.Stats().Snapshot(); ooo && b.N >= 1000 && st.Rematched == 0 {
		b.Fatal("nothing re-matched")
	}
}

// cpuNanos is the process's CPU time (user and system) in nanoseconds.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchEngine starts an engine of cfg and rs whose sinks drop everything; it is closed
// when the benchmark ends.
func benchEngine(b *testing.B, cfg Config, rs *RuleSet) (*Engine, context.Context) {
	b.Helper()
	eng, err := New(cfg, rs, nopSink{}, nopDLQ{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	eng.Start(ctx)
	b.Cleanup(eng.Close)
	return eng, ctx
}

// feedAll ingests recs[:b.N] into partition 0 in calls of chunk records and waits until
// the shards have matched them.
func feedAll(b *testing.B, ctx context.Context, eng *Engine, recs []Record, chunk int) {
	b.Helper()
	for i := 0; i < b.N; i += chunk {
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+chunk, b.N)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := eng.Barrier(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkVelocityFraud: the three velocity rules of testdata/fraud alone (ten
// aggregates, rearm holds) on the first b.N events of the reference workload, one shard,
// 5 s of out-of-orderness: the cost of observing aggregates, with little matching
// around it. cpu-ns/event is the process's CPU time per event.
//
//	go test ./engine -run '^$' -bench VelocityFraud -benchmem -benchtime 100000x
func BenchmarkVelocityFraud(b *testing.B) {
	schema, err := LoadSchema("../testdata/fraud", "")
	if err != nil {
		b.Fatal(err)
	}
	env, err := rules.NewEnv(schema, rules.EnvOptions{})
	if err != nil {
		b.Fatal(err)
	}
	bld := NewRuleSetBuilder(schema, env)
	for _, f := range []string{"auths-per-hour", "merchant-repeat", "online-spend-24h"} {
		bld.AddFile("../testdata/fraud/" + f + ".yaml")
	}
	rs, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	runReference(b, rs)
}

// runReference feeds b.N events of the reference workload through one shard with 5 s of
// out-of-orderness, in chunks of 512, and reports the CPU per event (cpu-ns/event); it
// returns the flushed engine (the timer starts after the events are made).
func runReference(b *testing.B, rs *RuleSet) (*Engine, context.Context) {
	recs := referenceRecords(b, b.N)
	b.ResetTimer()
	cpu0 := cpuNanos()
	eng, ctx := benchEngine(b, Config{Shards: 1, OutOfOrderness: 5 * time.Second, Log: slog.New(slog.DiscardHandler)}, rs)
	feedAll(b, ctx, eng, recs, 512)
	if err := eng.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/event")
	return eng, ctx
}
