package engine

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// authRefundRule: an authorisation then a refund within 5 s.
const authRefundRule = `
id: auth-refund
within: 5s
pattern:
  - name: a
    where: e.kind == 'auth'
  - name: r
    contiguity: any
    where: e.kind == 'refund'
`

// restoreAcrossIdle runs first, then then, once uninterrupted and once with a checkpoint
// and restore between them, both partitions of an engine checkpointing to a directory;
// the test fails unless both give the same alerts, which it returns. Partition -1 in
// first makes the partitions idle (ingest nothing for the idle timeout, then MarkIdle).
func restoreAcrossIdle(t *testing.T, rules string, first, then func(ingest func(part int, off int64, evs ...testEvent))) []string {
	t.Helper()
	rs := testRulesOf(t, rules)
	cfg := Config{Shards: 1, OutOfOrderness: 5 * time.Second, IdleTimeout: 20 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ing := func(e *Engine) func(part int, off int64, evs ...testEvent) {
		return func(part int, off int64, evs ...testEvent) {
			t.Helper()
			if _, err := e.Ingest(ctx, part, idleRecs(off, evs...)); err != nil {
				t.Fatal(err)
			}
			if err := e.Barrier(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	idle := func(e *Engine) {
		time.Sleep(50 * time.Millisecond)
		e.MarkIdle(ctx)
	}
	start := func(dir string, sink *sinkCollector) (e *Engine, stop func()) {
		store := openStore(t, dir)
		e = startCheckpointed(t, ctx, store, cfg, rs, sink, &dlqCollector{})
		for _, p := range []int{1, 2} {
			if _, err := e.Restore(ctx, p, slog.Default()); err != nil {
				t.Fatal(err)
			}
		}
		return e, func() { e.Close(); store.Close() }
	}
	runFirst := func(e *Engine) {
		in := ing(e)
		in(2, 0, testEvent{ID: "x1", Card: "x", TS: t0, Kind: "login"})
		first(func(part int, off int64, evs ...testEvent) {
			if part == -1 {
				idle(e)
				return
			}
			in(part, off, evs...)
		})
	}
	runThen := func(e *Engine) {
		then(ing(e))
		if err := e.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sink := &sinkCollector{}
	e, stop := start(t.TempDir(), sink)
	runFirst(e)
	runThen(e)
	stop()
	want := alertLines(sink.all)

	dir := t.TempDir()
	sink1, sink2 := &sinkCollector{}, &sinkCollector{}
	e1, stop1 := start(dir, sink1)
	runFirst(e1)
	if err := e1.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	stop1()
	e2, stop2 := start(dir, sink2)
	if st, err := e2.Inspect(ctx, false); err != nil || st.Keys == 0 {
		t.Fatalf("no key restored (%v): weak test", err)
	}
	runThen(e2)
	stop2()
	if got := alertLines(append(sink1.all, sink2.all...)); !slices.Equal(got, want) {
		t.Fatalf("alerts across the restart:\n%v\nuninterrupted:\n%v", got, want)
	}
	return want
}

// timersPastJournal runs restoreAcrossIdle over rules with first (key k, at t0) in
// partition 1; the partitions idle; another key's event 20 s later in partition 2, whose
// time fires k's timers past the events k's journal holds; then, after the restore, a
// refund of k at t0 + 3 s, in order for k.
func timersPastJournal(t *testing.T, rules string, first testEvent) []string {
	t.Helper()
	return restoreAcrossIdle(t, rules, func(in func(int, int64, ...testEvent)) {
		in(1, 0, first)
		in(-1, 0)
		in(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 20_000, Kind: "login"})
	}, func(in func(int, int64, ...testEvent)) {
		in(1, 1, testEvent{ID: "r1", Card: "k", TS: t0 + 3000, Kind: "refund", Amount: 5})
	})
}

// TestRestoreKeepsAggregateExpiryPastJournal: the timers of an idle partition's key
// expire its aggregates at the engine watermark, past events its journal holds; the
// restore rebuilds the aggregates from the base and the journal and does not expire
// them again, so the key's next event reads values the uninterrupted run had dropped.
func TestRestoreKeepsAggregateExpiryPastJournal(t *testing.T) {
	want := timersPastJournal(t, `
id: refund-after-capture
aggregates:
  - {name: caps, function: count, where: e.kind == 'capture', window: 5s}
pattern:
  - name: r
    where: e.kind == 'refund' && agg.caps >= 1.0
emit:
  caps: agg.caps
`, testEvent{ID: "c1", Card: "k", TS: t0, Kind: "capture", Amount: 10})
	t.Logf("uninterrupted: %v", want)
}

// TestRestoreKeepsCooldownEndPastJournal: an idle partition's key's timers prune its
// cooldowns at the engine watermark (cooldowns.prune, from the key's timer time), past events
// its journal holds; the restore replays the journal, which sets the cooldown again, and
// must prune it at the restored timer time too, or the key's next event, in order for it
// and before the cooldown's end, is held back where the uninterrupted run alerts.
func TestRestoreKeepsCooldownEndPastJournal(t *testing.T) {
	want := timersPastJournal(t, `
id: refund
cooldown: 10s
pattern:
  - name: r
    where: e.kind == 'refund'
`, testEvent{ID: "r0", Card: "k", TS: t0, Kind: "refund", Amount: 10})
	t.Logf("uninterrupted: %d alerts", len(want))
}

// TestRestoreKeepsRunsAfterTimer: an idle partition's key's timers end its run at the
// engine watermark; the partition's next event for the key, in order for it but before
// that time, starts a run its partition's own clock keeps (the partition is active
// again). A checkpoint then saves the key as its base and journal (both events) and its
// timer time; the restore matched the journal and advanced all of it to the timer time,
// ending the new run too, so the key's next event gave no alert where the uninterrupted
// run gives one.
func TestRestoreKeepsRunsAfterTimer(t *testing.T) {
	want := restoreAcrossIdle(t, authRefundRule, func(in func(int, int64, ...testEvent)) {
		in(1, 0, testEvent{ID: "a1", Card: "k", TS: t0, Kind: "auth", Amount: 10})
		in(-1, 0)
		in(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 20_000, Kind: "login"})
		in(1, 1, testEvent{ID: "a2", Card: "k", TS: t0 + 3000, Kind: "auth", Amount: 7})
	}, func(in func(int, int64, ...testEvent)) {
		in(1, 2, testEvent{ID: "r1", Card: "k", TS: t0 + 4000, Kind: "refund", Amount: 5})
	})
	t.Logf("uninterrupted: %d alerts", len(want))
	if len(want) == 0 {
		t.Fatal("the uninterrupted run gives no alert: the test does not test what it should")
	}
}

// TestRematchKeepsRunsAfterTimer: as TestRestoreKeepsRunsAfterTimer, with no restart: an
// event out of order for the key that no rule takes re-matches the key, and the replay
// advanced the whole journal to the timers' time at its end, ending the run the event
// after the timers had started: an event no rule reads took an alert away.
func TestRematchKeepsRunsAfterTimer(t *testing.T) {
	rs := testRulesOf(t, authRefundRule)
	run := func(login bool) []string {
		sink := &sinkCollector{}
		e, ctx, ingest := idleEngine(t, rs, 5*time.Second, 20*time.Millisecond, false, sink)
		in := func(part int, off int64, evs ...testEvent) {
			t.Helper()
			ingest(part, off, evs...)
			if err := e.Barrier(ctx); err != nil {
				t.Fatal(err)
			}
		}
		in(1, 0, testEvent{ID: "a1", Card: "k", TS: t0, Kind: "auth", Amount: 10})
		in(2, 0, testEvent{ID: "x1", Card: "x", TS: t0, Kind: "login"})
		time.Sleep(50 * time.Millisecond)
		e.MarkIdle(ctx)
		in(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 20_000, Kind: "login"})
		in(1, 1, testEvent{ID: "a2", Card: "k", TS: t0 + 3000, Kind: "auth", Amount: 7})
		off := int64(2)
		if login {
			in(1, off, testEvent{ID: "l1", Card: "k", TS: t0 + 2000, Kind: "login"})
			off++
			if st := e.Stats().Snapshot(); st.Rematched != 1 {
				t.Fatalf("%d re-matched, want 1: the test does not test what it should", st.Rematched)
			}
		}
		in(1, off, testEvent{ID: "r1", Card: "k", TS: t0 + 4000, Kind: "refund", Amount: 5})
		if err := e.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return alertLines(sink.all)
	}
	want, got := run(false), run(true)
	if len(want) == 0 {
		t.Fatal("no alert without the login: the test does not test what it should")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("alerts with an out-of-order login:\n%v\nwithout it:\n%v", got, want)
	}
}

// TestRestoreKeepsRunsAfterTimerFolded is TestRestoreKeepsRunsAfterTimer with the event
// before the timers and one after them folded into the key's base (its partition's
// watermark passed them), one after them left in the journal: the base is advanced where
// the timers had between them, or the run the timers ended is restored with it.
func TestRestoreKeepsRunsAfterTimerFolded(t *testing.T) {
	want := restoreAcrossIdle(t, authRefundRule, func(in func(int, int64, ...testEvent)) {
		in(1, 0, testEvent{ID: "a1", Card: "k", TS: t0, Kind: "auth", Amount: 10})
		in(-1, 0)
		in(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 20_000, Kind: "login"})
		// y1 moves the partition's watermark to t0+3.5s: a1 and a2 fold into the base, a3
		// stays in the journal
		in(1, 1, testEvent{ID: "a2", Card: "k", TS: t0 + 3000, Kind: "auth", Amount: 7},
			testEvent{ID: "a3", Card: "k", TS: t0 + 3600, Kind: "auth", Amount: 8},
			testEvent{ID: "y1", Card: "y", TS: t0 + 8500, Kind: "login"})
	}, func(in func(int, int64, ...testEvent)) {
		in(1, 4, testEvent{ID: "r1", Card: "k", TS: t0 + 4000, Kind: "refund", Amount: 5})
	})
	if len(want) == 0 {
		t.Fatal("the uninterrupted run gives no alert: the test does not test what it should")
	}
}

// TestFoldAdmitsHoldsToItsOwnBase: a fold of a key's journal advances the key's base to
// an event's timer time before matching it (foldOldest), and a match that time completes
// sets the rule's rearm hold on the base. That hold went to whichever velocity state the
// shard's last replay or fold had fed (here the other key j's base), so the key's base
// kept none: restored from it, the key's replayed match of a2 (dropped live by a1's hold)
// set a hold of its own, 3 s longer, which dropped a4's alert.
func TestFoldAdmitsHoldsToItsOwnBase(t *testing.T) {
	want := restoreAcrossIdle(t, `
id: auth-unrefunded
within: 5s
rearm: {after: 1h}
pattern:
  - name: a
    where: e.kind == 'auth'
  - name: r
    not: followed_by
    where: e.kind == 'refund'
`, func(in func(int, int64, ...testEvent)) {
		in(1, 0, testEvent{ID: "a1", Card: "k", TS: t0, Kind: "auth", Amount: 10})
		in(-1, 0)
		// the engine watermark ends a1's run at k's timers: an alert, and a hold for 1h
		in(2, 1, testEvent{ID: "x2", Card: "x", TS: t0 + 20_000, Kind: "login"})
		// a2 is matched after the timers (its timer time is past a1's); y1 folds a1 alone
		in(1, 1, testEvent{ID: "a2", Card: "k", TS: t0 + 3000, Kind: "auth", Amount: 7},
			testEvent{ID: "y1", Card: "y", TS: t0 + 7000, Kind: "login"})
		// k3 moves the watermark past j1 and a2: j's fold feeds first, then k's fold
		// advances k's base to a2's timer time, where a1's run completes
		in(1, 3, testEvent{ID: "j1", Card: "j", TS: t0 + 2500, Kind: "login"},
			testEvent{ID: "j2", Card: "j", TS: t0 + 5000, Kind: "login"},
			testEvent{ID: "k3", Card: "k", TS: t0 + 9000, Kind: "login"})
	}, func(in func(int, int64, ...testEvent)) {
		// a1's hold ends at t0+1h, a2's would at t0+1h+3s
		in(1, 6, testEvent{ID: "a4", Card: "k", TS: t0 + 3_601_000, Kind: "auth", Amount: 9},
			testEvent{ID: "z1", Card: "z", TS: t0 + 3_700_000, Kind: "login"})
	})
	if len(want) != 2 {
		t.Fatalf("uninterrupted: %v, want a1's and a4's alerts: the test does not test what it should", want)
	}
}
