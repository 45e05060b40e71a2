package engine

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/cepd/cepd/event"
)

// TestRestoredBaseKeepsNoKeyAlive: a key restored with a journal gets a base of its own
// (importKey). Its journal's end keeps the base's slot array for the next journals
// (endJournal): that array must refer to nothing of the key, or the kept array keeps
// its state alive after the key is gone, and with it the key's partition clock, whose
// heaps reach every key of the partition: once the partition is removed (a rebalance), none of its keys' states may
// stay reachable.
func TestRestoredBaseKeepsNoKeyAlive(t *testing.T) {
	rs := testRuleSet(t)
	cfg := Config{Shards: 1, OutOfOrderness: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var evs []testEvent
	ts := int64(1_700_000_000_000)
	for i := range 300 {
		evs = append(evs, testEvent{ID: fmt.Sprintf("e%d", i), Card: fmt.Sprintf("c%d", i%50), TS: ts + int64(i)*10, Kind: "auth", Amount: []float64{1, 2.5, 120}[i%3]})
	}
	dir := t.TempDir()
	store := openStore(t, dir)
	eng := startCheckpointed(t, ctx, store, cfg, rs, nopSink{}, nopDLQ{})
	if _, err := eng.Restore(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	ingestChunks(t, ctx, eng, records(evs))
	barrierCheckpoint(t, ctx, eng)
	eng.Close()
	store.Close()

	store = openStore(t, dir)
	defer store.Close()
	eng = startCheckpointed(t, ctx, store, cfg, rs, nopSink{}, nopDLQ{})
	defer eng.Close()
	if _, err := eng.Restore(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	var restored []weak.Pointer[keyState]
	journals := 0
	if err := eng.onShards(ctx, func(s *shard) {
		for _, ks := range s.keys {
			restored = append(restored, weak.Make(ks))
			if ks.base != nil {
				journals++
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if journals == 0 {
		t.Fatal("no key restored with a journal: the test does not test what it should")
	}
	// a later event of the partition moves its watermark past every journal: they end
	later := records([]testEvent{{ID: "later", Card: "other", TS: ts + 3_600_000, Kind: "login", Amount: 1}})
	later[0].Offset = int64(len(evs))
	ingestFlush(t, ctx, eng, later)
	if err := eng.RemovePartition(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if alive := reachableAfterGC(restored); alive > 0 {
		t.Fatalf("%d of the %d keys restored (%d with a journal) are still reachable after their partition was removed", alive, len(restored), journals)
	}
	runtime.KeepAlive(eng)
}

// TestRemovedKeysBasesKeepNothing: the matchers of a journal's base come from blocks
// shared with other bases and with the matchers a shard keeps for reuse (journal,
// endJournal), so a base matcher left as it was when its key goes keeps what it held
// (run arrays, buffer entries, events) reachable as long as any matcher of its block is
// used. Once a partition whose keys have journals is removed, no event its keys held may
// stay reachable.
func TestRemovedKeysBasesKeepNothing(t *testing.T) {
	rs := testRuleSet(t)
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: 5 * time.Second}, rs, nopSink{}, nopDLQ{})
	defer stop()
	ts := int64(1_700_000_000_000)
	send := partitionIngester(t, ctx, eng)
	// rounds of both partitions' keys, each round far enough after the last that every
	// journal ends and the next starts from the kept matchers; keys vary in how many
	// rules are live, so bases take matchers of other bases' blocks
	for round := range 6 {
		for part := range 2 {
			send(part, mixedRound(ts, round, part))
		}
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	held, journals := eventsHeldByPartition(t, ctx, eng, 0)
	if journals == 0 || len(held) == 0 {
		t.Fatalf("%d journals, %d events held: the test does not test what it should", journals, len(held))
	}
	if err := eng.RemovePartition(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// partition 1 goes on: its keys' journals end and start again from the kept matchers
	for round := 6; round < 8; round++ {
		var evs []testEvent
		for k := range 40 {
			evs = append(evs, testEvent{ID: fmt.Sprintf("f%d-%d", round, k), Card: fmt.Sprintf("p1-c%d", k), TS: ts + int64(round)*8_000 + int64(k), Kind: "auth", Amount: 120})
		}
		send(1, evs)
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if alive := reachableAfterGC(held); alive > 0 {
		t.Fatalf("%d of the %d events partition 0's keys held (%d with a journal) are still reachable after it was removed", alive, len(held), journals)
	}
	runtime.KeepAlive(eng)
}

// partitionIngester returns a function that ingests events into a partition of eng,
// each record at that partition's next offset (from 0).
func partitionIngester(t *testing.T, ctx context.Context, eng *Engine) func(part int, evs []testEvent) {
	offs := map[int]int64{}
	return func(part int, evs []testEvent) {
		recs := records(evs)
		for i := range recs {
			recs[i].Offset = offs[part]
			offs[part]++
		}
		if _, err := eng.Ingest(ctx, part, recs); err != nil {
			t.Fatal(err)
		}
	}
}

// mixedRound is one round of TestRemovedKeysBasesKeepNothing for a partition: 40 keys of
// its own, each with 1 to 4 events of varied kinds and amounts, 8s after the round before.
func mixedRound(ts int64, round, part int) []testEvent {
	var evs []testEvent
	for k := range 40 {
		for j := range 1 + (k+round+part)%4 {
			evs = append(evs, testEvent{ID: fmt.Sprintf("e%d-%d-%d-%d", round, part, k, j), Card: fmt.Sprintf("p%d-c%d", part, k),
				TS: ts + int64(round)*8_000 + int64(k*10+j), Kind: []string{"auth", "capture", "auth", "refund"}[(j+k)%4], Amount: []float64{1, 2.5, 120, 800}[(j+round)%4]})
		}
	}
	return evs
}

// eventsHeldByPartition returns weak pointers to every event the keys of partition part
// hold (in their state, as exportKey lists it, and in their journals), and how many of
// those keys have a journal's base.
func eventsHeldByPartition(t *testing.T, ctx context.Context, eng *Engine, part int32) ([]weak.Pointer[event.Event], int) {
	t.Helper()
	var held []weak.Pointer[event.Event]
	journals := 0
	if err := eng.onShards(ctx, func(s *shard) {
		for _, ks := range s.keys {
			if ks.part.id != part {
				continue
			}
			if ks.base != nil {
				journals++
			}
			for _, ev := range s.exportKey(ks).Events {
				held = append(held, weak.Make(ev))
			}
			for _, it := range ks.pending() {
				held = append(held, weak.Make(it.ev))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return held, journals
}

// reachableAfterGC collects garbage and returns how many of ws still point to a value.
func reachableAfterGC[T any](ws []weak.Pointer[T]) int {
	for range 3 {
		runtime.GC()
	}
	alive := 0
	for _, w := range ws {
		if w.Value() != nil {
			alive++
		}
	}
	return alive
}
