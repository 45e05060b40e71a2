package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVelocityNeededAfterIdleTimer: an idle partition's timers follow the engine
// watermark, so a key's live matcher can time out past events its journal still holds;
// the next event of the key, in order for it but before that watermark, then finds no
// matcher and the start index rules it out: its values are not computed. A re-match
// replays the journal as it was matched (storedFeed) from the base, whose matcher still
// has the run, and the event's later step reads the values: it must read those the
// reference (every value computed) read, or the re-match delivers the replay's match as
// new while the reference, having seen it in both orders, delivers nothing.
func TestVelocityNeededAfterIdleTimer(t *testing.T) {
	rs := testRulesOf(t, `
id: auth-capture-refund
within: 5s
aggregates:
  - {name: caps, function: count, where: e.kind == 'capture', window: 1m}
pattern:
  - name: a
    where: e.kind == 'auth'
  - name: r
    contiguity: any
    where: e.kind == 'refund' && agg.caps >= 1.0
emit:
  caps: agg.caps
`)
	run := func(all bool) []string {
		sink := &sinkCollector{}
		e, ctx, ingest := idleEngine(t, rs, 5*time.Second, 20*time.Millisecond, all, sink)
		ingest(1, 0, testEvent{ID: "a1", Card: "k", TS: t0, Kind: "auth", Amount: 10},
			testEvent{ID: "c1", Card: "k", TS: t0 + 1000, Kind: "capture", Amount: 10})
		ingest(2, 0, testEvent{ID: "x1", Card: "x", TS: t0, Kind: "login"})
		time.Sleep(50 * time.Millisecond)
		e.MarkIdle(ctx)
		// the engine watermark passes the run's deadline (t0+5s): k's matcher times out
		ingest(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 20_000, Kind: "login"})
		if err := e.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		// in order for k (its journal still holds a1, c1), before the engine watermark
		ingest(1, 2, testEvent{ID: "r1", Card: "k", TS: t0 + 3000, Kind: "refund", Amount: 5})
		// out of order for k: re-matched
		ingest(1, 3, testEvent{ID: "l1", Card: "k", TS: t0 + 2000, Kind: "login"})
		if err := e.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		if st := e.Stats().Snapshot(); st.Rematched != 1 {
			t.Fatalf("all=%v: %d re-matched, want 1: the test does not test what it should", all, st.Rematched)
		}
		if err := e.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return alertLines(sink.all)
	}
	want, got := run(true), run(false)
	if !slices.Equal(got, want) {
		t.Fatalf("alerts with the values computed where needed:\n%v\nreference (every value computed):\n%v", got, want)
	}
	t.Logf("%d alerts: %v", len(got), got)
}

// TestVelocityNeededIdleAgainstAll is TestVelocityNeededAgainstAll with an idle
// partition: between chunks of one partition's events, arriving out of order, the
// partition goes idle and another moves the engine watermark well past it, so the
// first partition's timers run ahead of its keys' journals (and of their next events).
// The alerts must be those of the reference that computes every value. Eight trials:
// since re-matches advance where the timers had (item.timed), only trial 4 of the first
// eight fails without keyState.timedPastJournal (the first three, all it ran before,
// passed without it).
func TestVelocityNeededIdleAgainstAll(t *testing.T) {
	rs := testRulesOf(t, append(append(slices.Clone(velocityRules), needRules...), shortWindowRules...)...)
	const ooo = 4 * time.Second
	for trial := range 8 {
		r := rand.New(rand.NewPCG(uint64(trial), 31))
		evs := arriveWithin(genEvents(uint64(970+trial), 3+2*trial, 1200), r, ooo)
		// after which chunks partition 2 jumps, and by how much
		jumps := map[int]int64{}
		for c := 0; c < len(evs)/80; c++ {
			if r.IntN(2) == 0 {
				jumps[c] = 8_000 + r.Int64N(40_000)
			}
		}
		run := func(all bool) ([]string, Snapshot) {
			sink := &sinkCollector{}
			e, ctx, _ := idleEngine(t, rs, ooo, 10*time.Millisecond, all, sink)
			var off1, off2, top, p2 int64
			for c := 0; c*80 < len(evs); c++ {
				chunk := evs[c*80 : min((c+1)*80, len(evs))]
				for _, ev := range chunk {
					top = max(top, ev.TS)
				}
				if _, err := e.Ingest(ctx, 1, idleRecs(off1, chunk...)); err != nil {
					t.Fatal(err)
				}
				off1 += int64(len(chunk))
				jump, ok := jumps[c]
				if !ok {
					continue
				}
				if err := e.Barrier(ctx); err != nil {
					t.Fatal(err)
				}
				time.Sleep(25 * time.Millisecond)
				e.MarkIdle(ctx)
				p2 = max(p2+1, top+jump)
				if _, err := e.Ingest(ctx, 2, idleRecs(off2, testEvent{ID: fmt.Sprintf("x%d", c), Card: "x", TS: p2, Kind: "login"})); err != nil {
					t.Fatal(err)
				}
				off2++
				if err := e.Barrier(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Barrier(ctx); err != nil {
				t.Fatal(err)
			}
			st := e.Stats().Snapshot()
			if err := e.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			return alertLines(sink.all), st
		}
		want, _ := run(true)
		got, st := run(false)
		if len(want) < 10 || st.Rematched == 0 {
			t.Fatalf("trial %d: %d alerts, %d re-matched: weak test", trial, len(want), st.Rematched)
		}
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("trial %d: %d alerts, reference %d; first difference:\n%s\nreference:\n%s", trial, len(got), len(want), got[i], want[i])
				}
			}
			t.Fatalf("trial %d: %d alerts, reference %d", trial, len(got), len(want))
		}
		t.Logf("trial %d: %d alerts, %d re-matched", trial, len(got), st.Rematched)
	}
}

// TestVelocityNeededAcrossSwap: values where needed against every value when the rule
// set changes mid-stream, out of order: a rule that keeps its fingerprint keeps
// aggregates whose windows were not read for most events, and a rule that comes in
// reads aggregates of its own from then on.
func TestVelocityNeededAcrossSwap(t *testing.T) {
	srcs := append(slices.Clone(velocityRules), needRules...)
	rs := testRulesOf(t, srcs...)
	next := compileSet(t, rs, append(append(slices.Clone(srcs[1:]), shortWindowRules...), strings.Replace(srcs[0], "id: ", "id: again-", 1)))
	const ooo = 3 * time.Second
	for trial := range 2 {
		evs := arriveWithin(genEvents(uint64(990+trial), 4+2*trial, 2400), rand.New(rand.NewPCG(uint64(trial), 37)), ooo)
		recs := records(evs)
		run := func(all bool) []string {
			sink := &sinkCollector{}
			eng, ctx, stop := startEngine(t, Config{Shards: 1 + trial, OutOfOrderness: ooo}, rs, sink, &dlqCollector{})
			defer stop()
			setAll := func() {
				if err := eng.onShards(ctx, func(s *shard) { s.vall = all }); err != nil {
					t.Fatal(err)
				}
			}
			setAll()
			cut := len(recs) / 2
			if _, err := eng.Ingest(ctx, 0, recs[:cut]); err != nil {
				t.Fatal(err)
			}
			if _, err := eng.SwapRules(ctx, next); err != nil {
				t.Fatal(err)
			}
			setAll()
			if _, err := eng.Ingest(ctx, 0, recs[cut:]); err != nil {
				t.Fatal(err)
			}
			if err := eng.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			return alertLines(sink.all)
		}
		want, got := run(true), run(false)
		if len(want) < 20 {
			t.Fatalf("trial %d: %d alerts: weak test", trial, len(want))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: %d alerts, reference %d", trial, len(got), len(want))
		}
		t.Logf("trial %d: %d alerts", trial, len(got))
	}
}

// TestVelocityNeededCheckpointRestore: the rules that read their values only where the
// start index or a matcher lets them (needRules) checkpoint aggregates whose windows
// were not read for most events; restored, they give the alerts of one uninterrupted
// run, in order and out of order.
func TestVelocityNeededCheckpointRestore(t *testing.T) {
	rs := testRulesOf(t, append(slices.Clone(needRules), shortWindowRules...)...)
	if want, _, _ := run(t, rs, Config{Shards: 2}, records(genEvents(41, 12, 5000)), 100); len(want) < 50 {
		t.Fatalf("%d alerts: weak test", len(want))
	}
	t.Run("in order", func(t *testing.T) { checkpointRestoreRules(t, rs, genEvents(41, 12, 5000), 0) })
	t.Run("out of order per key", func(t *testing.T) {
		evs := genEvents(41, 12, 5000)
		delayWithinKey(evs)
		checkpointRestoreRules(t, rs, evs, 2*time.Second)
	})
}
