package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

// idleRecs returns one record per event of key card, offsets from off.
func idleRecs(off int64, evs ...testEvent) []Record {
	recs := records(evs)
	for i := range recs {
		recs[i].Offset = off + int64(i)
	}
	return recs
}

const t0 = int64(1_700_000_000_000)

// idleEngine starts an engine of one shard over rs with out-of-orderness ooo and idle
// timeout idle (startEngine; closed when the test ends), its shards computing every
// velocity value when all (shard.vall), and returns it with an ingest of events numbered
// from off into a partition (idleRecs).
func idleEngine(t testing.TB, rs *RuleSet, ooo, idle time.Duration, all bool, sink alerts.Sink) (*Engine, context.Context, func(part int, off int64, evs ...testEvent)) {
	t.Helper()
	e, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: ooo, IdleTimeout: idle}, rs, sink, &dlqCollector{})
	t.Cleanup(stop)
	if err := e.onShards(ctx, func(s *shard) { s.vall = all }); err != nil {
		t.Fatal(err)
	}
	return e, ctx, func(part int, off int64, evs ...testEvent) {
		t.Helper()
		if _, err := e.Ingest(ctx, part, idleRecs(off, evs...)); err != nil {
			t.Fatal(err)
		}
	}
}

// absenceAlerts returns the auth-no-capture alerts sink holds.
func absenceAlerts(sink *sinkCollector) []string { return ruleAlerts(sink, "auth-no-capture", "") }

// ruleAlerts returns the alerts of rule (and kind, unless empty) sink holds.
func ruleAlerts(sink *sinkCollector, rule, kind string) []string {
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var out []string
	for _, a := range sink.all {
		if a.RuleID == rule && (kind == "" || a.Kind == kind) {
			b, _ := json.Marshal(a)
			out = append(out, string(b))
		}
	}
	return out
}

// TestBacklogNeverIdle (issue 10): partition 1 holds an authorisation whose capture its
// source has not handed over yet, and a purchase whose refund (within 60s, timeouts on)
// is unread too. Reported as a backlog, the partition stays active however long the idle
// timeout has run, so partition 2's time (minutes ahead) neither closes the
// authorisation's 30s window nor times the purchase out; once the capture and the refund
// arrive there is no absence alert, no early timeout, and the refund matches. The control run,
// without the backlog, shows what the backlog prevents: partition 1 is idle, follows
// partition 2's time, and both windows close before their events are read.
func TestBacklogNeverIdle(t *testing.T) {
	rs := testRuleSet(t)
	for _, backlog := range []bool{true, false} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		sink := &sinkCollector{}
		e, err := New(Config{Shards: 2, IdleTimeout: 20 * time.Millisecond}, rs, sink, &dlqCollector{})
		if err != nil {
			t.Fatal(err)
		}
		e.Start(ctx)
		ingest := func(part int, recs []Record) {
			t.Helper()
			if _, err := e.Ingest(ctx, part, recs); err != nil {
				t.Fatal(err)
			}
		}
		ingest(1, idleRecs(0, testEvent{ID: "a1", Card: "b", TS: t0, Kind: "auth", Amount: 200},
			testEvent{ID: "p1", Card: "r", TS: t0 + 1000, Kind: "capture", Amount: 120}))
		ingest(2, idleRecs(0, testEvent{ID: "x1", Card: "x", TS: t0, Kind: "login"}))
		if err := e.SetBacklog(ctx, 1, backlog); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		e.MarkIdle(ctx) // partition 2 is not idle: it ingests right after
		ingest(2, idleRecs(1, testEvent{ID: "x2", Card: "x", TS: t0 + 60_000, Kind: "login"},
			testEvent{ID: "x3", Card: "x", TS: t0 + 120_000, Kind: "login"}))
		if err := e.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		early, earlyTimeouts := absenceAlerts(sink), ruleAlerts(sink, "refunds", "timeout")
		ingest(1, idleRecs(2, testEvent{ID: "c1", Card: "b", TS: t0 + 10_000, Kind: "capture"},
			testEvent{ID: "r1", Card: "r", TS: t0 + 20_000, Kind: "refund", Amount: 50}))
		if err := e.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		e.Close()
		cancel()
		if backlog && len(absenceAlerts(sink)) > 0 {
			t.Errorf("with a backlog: the window closed before the capture was read: %v", absenceAlerts(sink))
		}
		if backlog && (len(earlyTimeouts) > 0 || len(ruleAlerts(sink, "refunds", "match")) != 1) {
			t.Errorf("with a backlog: refunds timed out before the refund was read %v; matches %v, want one",
				earlyTimeouts, ruleAlerts(sink, "refunds", "match"))
		}
		if !backlog && (len(early) != 1 || len(earlyTimeouts) != 1) {
			t.Errorf("without a backlog the idle partition should follow the other's time: %d early absence alerts, %d early timeouts",
				len(early), len(earlyTimeouts))
		}
	}
}

// TestRestoredPartitionIdleTimer (issue 10): a partition restored on an engine older
// than the idle timeout is not idle at once: its idle timer starts at the restore. Its
// restored authorisation is therefore not closed by another partition's time before the
// partition's own events (the capture) are read.
func TestRestoredPartitionIdleTimer(t *testing.T) {
	rs := testRuleSet(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config{Shards: 2, IdleTimeout: 100 * time.Millisecond}

	store := openStore(t, dir)
	e1 := startCheckpointed(t, ctx, store, cfg, rs, &sinkCollector{}, &dlqCollector{})
	if _, err := e1.Restore(ctx, 1, slog.Default()); err != nil {
		t.Fatal(err)
	}
	if _, err := e1.Ingest(ctx, 1, idleRecs(0, testEvent{ID: "a1", Card: "b", TS: t0, Kind: "auth", Amount: 200})); err != nil {
		t.Fatal(err)
	}
	if err := e1.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	e1.Close()
	store.Close()

	store = openStore(t, dir)
	defer store.Close()
	sink := &sinkCollector{}
	e2 := startCheckpointed(t, ctx, store, cfg, rs, sink, &dlqCollector{})
	defer e2.Close()
	time.Sleep(150 * time.Millisecond) // the engine is older than the idle timeout
	if _, err := e2.Ingest(ctx, 2, idleRecs(0, testEvent{ID: "x1", Card: "x", TS: t0, Kind: "login"})); err != nil {
		t.Fatal(err)
	}
	meta, err := e2.Restore(ctx, 1, slog.Default())
	if err != nil || !meta.Found {
		t.Fatalf("restore: %v, found %v", err, meta.Found)
	}
	e2.MarkIdle(ctx)
	// Another partition's time passes the window (no absence alert yet), then the capture
	// comes and the stream ends (none at all).
	for _, step := range []struct {
		part int
		ev   testEvent
		wait func(context.Context) error
		why  string
	}{
		{2, testEvent{ID: "x2", Card: "x", TS: t0 + 120_000, Kind: "login"}, e2.Barrier,
			"the restored partition was idle at once; its window closed by the other partition's time"},
		{1, testEvent{ID: "c1", Card: "b", TS: t0 + 10_000, Kind: "capture"}, e2.Flush, "alert for a captured authorisation"},
	} {
		if _, err := e2.Ingest(ctx, step.part, idleRecs(1, step.ev)); err != nil {
			t.Fatal(err)
		}
		if err := step.wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := absenceAlerts(sink); len(got) > 0 {
			t.Fatalf("%s: %v", step.why, got)
		}
	}
}

// TestStoreLostFullCheckpoint (issue 10): the checkpoint store loses the partition's
// data (its log file is removed) after a checkpoint holding key A's partial match. The
// next checkpoint, a delta holding only key B, is refused (state.ErrLost); the engine
// writes a full checkpoint at once and reports it in CheckpointHealth, so an engine
// restored from the store has both partial matches and both authorisations alert.
func TestStoreLostFullCheckpoint(t *testing.T) {
	rs := testRuleSet(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store := openStore(t, dir)
	e1 := startCheckpointed(t, ctx, store, Config{Shards: 2}, rs, &sinkCollector{}, &dlqCollector{})
	if _, err := e1.Restore(ctx, 0, slog.Default()); err != nil {
		t.Fatal(err)
	}
	ingest := func(e *Engine, recs []Record) {
		t.Helper()
		if _, err := e.Ingest(ctx, 0, recs); err != nil {
			t.Fatal(err)
		}
	}
	ingest(e1, idleRecs(0, testEvent{ID: "a1", Card: "PM-A", TS: t0, Kind: "auth", Amount: 200}))
	if err := e1.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "partition-000000.log")); err != nil {
		t.Fatal(err)
	}
	ingest(e1, idleRecs(1, testEvent{ID: "b1", Card: "PM-B", TS: t0 + 1000, Kind: "auth", Amount: 300}))
	if err := e1.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if st := e1.CheckpointStats(); st.Lost != 1 {
		t.Errorf("store losses counted: %d, want 1", st.Lost)
	}
	status, detail := e1.CheckpointHealth()
	if status != "ok" || detail == nil || !strings.Contains(detail.Error(), "full checkpoint written") {
		t.Errorf("health after the repair: %q, %v", status, detail)
	}
	e1.Close()
	store.Close()

	store = openStore(t, dir)
	defer store.Close()
	sink := &sinkCollector{}
	e2 := startCheckpointed(t, ctx, store, Config{Shards: 3}, rs, sink, &dlqCollector{})
	defer e2.Close()
	if meta, err := e2.Restore(ctx, 0, slog.Default()); err != nil || meta.Offset != 1 {
		t.Fatalf("restore: %v, offset %d", err, meta.Offset)
	}
	if err := e2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, a := range sink.all {
		if a.RuleID == "auth-no-capture" {
			keys[a.Key] = true
		}
	}
	if !keys["PM-A"] || !keys["PM-B"] {
		t.Fatalf("auth-no-capture alerts after the restore for %v, want PM-A and PM-B", keys)
	}
}
