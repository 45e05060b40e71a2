package engine

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
	"weak"
)

// TestRestoredBaseKeepsNoKeyAlive: a key restored with a journal gets a base of its own
// (importKey). Its journal's end keeps the base's slot array for the next journals
// (endJournal): that array must not be the key's own slots, which share an allocation
// with the key's state (newKeyState), or the kept array keeps the state alive after the
// key is gone, and with it the key's partition clock, whose heaps reach every key of the
// partition: once the partition is removed (a rebalance), none of its keys' states may
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
	for range 3 {
		runtime.GC()
	}
	alive := 0
	for _, w := range restored {
		if w.Value() != nil {
			alive++
		}
	}
	if alive > 0 {
		t.Fatalf("%d of the %d keys restored (%d with a journal) are still reachable after their partition was removed", alive, len(restored), journals)
	}
	runtime.KeepAlive(eng)
}
