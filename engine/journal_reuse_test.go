package engine

import (
	"context"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
)

// TestJournalReusesBase: once a shard has kept an ended journal's base, a journal's
// start (the base's slots and a snapshot of each live matcher) and its end allocate
// nothing (endJournal, newBase). Most events of a stream whose keys' events are further
// apart than the out-of-orderness start and end a journal.
func TestJournalReusesBase(t *testing.T) {
	rs := testRuleSet(t)
	eng, err := New(Config{Shards: 1, OutOfOrderness: time.Second}, rs, nopSink{}, nopDLQ{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eng.Start(ctx)
	defer eng.Close()
	allocs, snapped := -1.0, true
	if err := eng.onShards(ctx, func(s *shard) {
		ks := s.key("k", 0)
		for ri := range ks.m { // every rule live: the base takes a snapshot of each
			ks.m[ri] = s.newMatcher(ri)
			ks.live++
		}
		it := item{ev: &event.Event{Time: 1, Seq: 1}, stable: true}
		cycle := func() {
			s.journal(ks, &it)
			snapped = snapped && ks.base != nil && ks.base[0] != nil && ks.base[0] != ks.m[0]
			s.endJournal(ks)
		}
		cycle()
		allocs = testing.AllocsPerRun(200, cycle)
		for ri := range ks.m {
			s.idle(ks, ri, ks.m[ri])
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !snapped {
		t.Fatal("the journal took no snapshot of the live matchers")
	}
	if allocs != 0 {
		t.Fatalf("a journal's start and end allocate %v times, want 0", allocs)
	}
}
