package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/workload"
	"github.com/cepd/cepd/rules"
)

// referenceOpts is the slow, obviously correct evaluation: every condition in the CEL
// interpreter, every partial match visited for every event.
var referenceOpts = rules.EnvOptions{NoClosures: true, NoGuards: true}

func replayJSON(t testing.TB, rs *engine.RuleSet, recs []engine.Record, shards int) []byte {
	t.Helper()
	out, err := runReplay(context.Background(), rs, recs, engine.Config{Shards: shards, OutOfOrderness: 5 * time.Second}, &alerts.Collector{}, &dlqWriter{}, true)
	if err != nil {
		t.Fatal(err)
	}
	return fraudtest.AlertLines(t, out)
}

// TestFastPathMatchesReference replays the fraud rules over generated streams (several
// seeds, a high fraud rate so every rule fires) through the fast paths (closures,
// event-only guards) and through the reference paths, and wants byte-identical alerts.
func TestFastPathMatchesReference(t *testing.T) {
	fast := fraudRuleSet(t)
	ref, err := engine.LoadRuleSet(fraudDir, fraudSchema, referenceOpts)
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			recs := workloadRecords(t, func(c *workload.Config) {
				c.Seed, c.Cards, c.Events, c.FraudRate = seed, 300, 20000, 0.05
			})
			got, want := replayJSON(t, fast, recs, 2), replayJSON(t, ref, recs, 1)
			if len(want) == 0 {
				t.Fatal("the reference gives no alert: the stream tests nothing")
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("fast and reference alerts differ (%d and %d bytes)", len(got), len(want))
			}
			t.Logf("%d bytes of alerts agree", len(got))
		})
	}
}

// cpuTime is the process's user + system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkFraudPaths runs the 17 fraud rules over 100,000 generated events on one shard
// with the reference evaluation and with the fast one, side by side, at 5 s of
// out-of-orderness, and the fast one in order: one op is one event.
func BenchmarkFraudPaths(b *testing.B) {
	for _, c := range []struct {
		name string
		opts rules.EnvOptions
		ooo  time.Duration
	}{
		{"reference", referenceOpts, 5 * time.Second},
		{"closures", rules.EnvOptions{NoGuards: true}, 5 * time.Second},
		{"fast", rules.EnvOptions{}, 5 * time.Second},
		// fast with no out-of-orderness: no journal, so fast less inorder is what the
		// journal costs (not "fast-…": -bench FraudPaths/fast would run it too)
		{"inorder", rules.EnvOptions{}, 0},
	} {
		rs, err := engine.LoadRuleSet(fraudDir, fraudSchema, c.opts)
		if err != nil {
			b.Fatal(err)
		}
		recs := workloadRecords(b, func(c *workload.Config) { c.Events = 100000 })
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; i < b.N; {
				n := min(b.N-i, len(recs))
				if _, err := runReplay(context.Background(), rs, recs[:n], engine.Config{Shards: 1, OutOfOrderness: c.ooo}, &alerts.Collector{}, &dlqWriter{}, true); err != nil {
					b.Fatal(err)
				}
				i += n
			}
			// CPU time (all threads: shard, decoding, GC) per event: steadier than wall time
			// on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/event")
		})
	}
}

// BenchmarkCollectState prices one collection of the state the 17 fraud rules hold after
// the first 100,000 generated events (one shard, 5 s of out-of-orderness, the end of the
// stream not reached): one op is one forced collection of a heap that does not change.
// The mark phase visits every live object and follows every pointer, and while it runs
// it takes a core from the shards: this is what a collection costs the latency tail.
// Under cachegrind with one processor (GOMAXPROCS=1 GOGC=off), N = 2 against N = 4:
// instructions and first-level misses a collection (scripts/gcmark.sh; repeats differ by
// a few per cent: the engine's clock is the wall clock).
func BenchmarkCollectState(b *testing.B) {
	rs, err := engine.LoadRuleSet(fraudDir, fraudSchema, rules.EnvOptions{})
	if err != nil {
		b.Fatal(err)
	}
	recs := workloadRecords(b, func(c *workload.Config) { c.Events = 100000 })
	r := engine.Runner{Config: engine.Config{Shards: 1, OutOfOrderness: 5 * time.Second, KeySpaces: true}, Rules: rs,
		Sink: &alerts.Collector{}, DeadLetters: &dlqWriter{},
		Matched: func(context.Context, *engine.Engine) error {
			runtime.GC() // the garbage of the run
			b.ResetTimer()
			for range b.N {
				runtime.GC()
			}
			b.StopTimer()
			return nil
		}}
	if err := r.Run(context.Background(), recs); err != nil {
		b.Fatal(err)
	}
}
