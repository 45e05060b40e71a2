package engine

import (
	"slices"
	"testing"
)

// TestPutBatchClearsEvents: a batch back in the pool holds no event (their values slabs
// would stay alive with it): putBatch clears the events the batch held, and only those
// are ever set (batch.add fills b.evs in item order); and its items are zero to its
// capacity, as batch.add, which fills in only an item's set fields, assumes.
func TestPutBatchClearsEvents(t *testing.T) {
	eng, err := New(Config{Shards: 1, BatchSize: 16}, testRuleSet(t), &sinkCollector{}, &dlqCollector{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	p := eng.partition(0)
	dec := p.decoder()
	for _, n := range []int{1, 7, 16} {
		b := eng.getBatch()
		for i, rec := range records(genEvents(uint64(n), 3, n)) {
			if err := dec.Decode(rec.Value, &p.scratch); err != nil {
				t.Fatal(err)
			}
			it := b.add(&p.scratch)
			it.offset, it.part, it.wm, it.ticket, it.raw = int64(i), 1, 2, &ticket{}, []byte("x")
		}
		eng.putBatch(b)
		if len(b.items) != 0 || b.ticket != nil {
			t.Fatalf("%d events: a returned batch holds %d items, ticket %v", n, len(b.items), b.ticket)
		}
		for i, it := range b.items[:cap(b.items)] {
			if it.ev != nil || it.offset != 0 || it.part != 0 || it.wm != 0 || it.ticket != nil || it.raw != nil {
				t.Fatalf("%d events: item %d of a returned batch is still set (%+v)", n, i, it)
			}
		}
		for i := range b.evs {
			if b.evs[i].Key != "" || b.evs[i].Len() != 0 {
				t.Fatalf("%d events: event %d of a returned batch is still set (%q)", n, i, b.evs[i].Key)
			}
		}
	}
}

// TestShareFillsOnlyForOtherSpaces: an engine with Config.KeySpaces copies each call's
// decoded events for its other key spaces only when it has some: with one key space the
// share stays empty, with two it holds one event per accepted record and the other key
// space matches them all.
func TestShareFillsOnlyForOtherSpaces(t *testing.T) {
	recs, _, malformed := keySpaceEvents(3, 300)
	for _, tc := range []struct {
		name   string
		rules  []string
		spaces int
	}{{"one key space", keySpaceRules[:1], 1}, {"two key spaces", keySpaceRules[:2], 2}} {
		t.Run(tc.name, func(t *testing.T) {
			eng, ctx, stop := startEngine(t, Config{Shards: 2, KeySpaces: true}, keySpaceRulesOf(t, tc.rules...), &sinkCollector{}, &dlqCollector{})
			defer stop()
			if n := len(eng.ks.children()) + 1; n != tc.spaces {
				t.Fatalf("%d key spaces, want %d", n, tc.spaces)
			}
			ingestFlush(t, ctx, eng, recs)
			accepted := len(recs) - malformed
			sh := &eng.ks.share
			if tc.spaces == 1 {
				if cap(sh.evs) != 0 {
					t.Fatalf("one key space: the share holds room for %d events, want none", cap(sh.evs))
				}
				return
			}
			if len(sh.evs) != accepted {
				t.Fatalf("the share held %d events, want %d (one per accepted record)", len(sh.evs), accepted)
			}
			st := eng.ks.children()[0].eng.Stats().Snapshot()
			if st.Events != uint64(accepted) {
				t.Fatalf("the other key space took %d events, want %d", st.Events, accepted)
			}
		})
	}
}

// TestHandOffEarlyDoubles: with its shard waiting every time, one ingest call hands over
// early batches of 1, 2, 4, … events, each twice the last, until they are full ones
// (BatchSize); a shard that is not waiting gets none; the next call starts again at one
// event. The shard is never started: its waiting flag is set by hand.
func TestHandOffEarlyDoubles(t *testing.T) {
	eng, err := New(Config{Shards: 1, BatchSize: 64}, testRuleSet(t), &sinkCollector{}, &dlqCollector{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	p, sh := eng.partition(0), eng.shards[0]
	call := func(events int, waiting bool) (sizes []int) {
		p.resetEarly()
		n := 0
		for range events {
			n++
			sh.waiting.Store(waiting)
			if n >= eng.cfg.BatchSize || p.handOffEarly(0, n) {
				if waiting && n < eng.cfg.BatchSize && sh.waiting.Load() {
					t.Fatal("an early hand-off did not claim the waiting shard")
				}
				sizes = append(sizes, n)
				n = 0
			}
		}
		return sizes
	}
	want := []int{1, 2, 4, 8, 16, 32, 64, 64, 64}
	for range 2 {
		if got := call(255, true); !slices.Equal(got, want) {
			t.Fatalf("batches handed to a waiting shard: %v, want %v", got, want)
		}
	}
	if got := call(200, false); !slices.Equal(got, []int{64, 64, 64}) {
		t.Fatalf("batches handed to a busy shard: %v, want only full ones", got)
	}
}
