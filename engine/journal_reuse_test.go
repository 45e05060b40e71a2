package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
)

// TestJournalReusesBase: once a shard has kept an ended journal's base, a journal's
// start (the base's slots and a snapshot of each live matcher) and its end allocate
// nothing (endJournal, newBase), also after a reload to a rule set of another size. Most
// events of a stream whose keys' events are further apart than the out-of-orderness start
// and end a journal.
func TestJournalReusesBase(t *testing.T) {
	rs := testRuleSet(t)
	fewer := testRulesOf(t, testRules[:len(testRules)-1]...)
	eng, err := New(Config{Shards: 1, OutOfOrderness: time.Second}, rs, nopSink{}, nopDLQ{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eng.Start(ctx)
	defer eng.Close()
	var allocs [2]float64
	snapped := true
	if err := eng.onShards(ctx, func(s *shard) {
		ks := s.key("k", 0)
		it := item{ev: &event.Event{Time: 1, Seq: 1}, stable: true}
		for round := range allocs {
			if round == 1 {
				// more journals of the old rules end than the shard keeps bases: their
				// length is not the new rules'
				others := make([]*keyState, maxSpare+1)
				for i := range others {
					others[i] = s.key(fmt.Sprint("other", i), 0)
					s.journal(others[i], &it)
				}
				for _, o := range others {
					s.endJournal(o)
				}
				s.swapRules(fewer)
				s.current(ks)
			}
			for ri := range s.rules.Rules { // every rule live: the base takes a snapshot of each
				if !ks.m.has(ri) {
					ks.m.set(ri, s.newMatcher(ri))
					ks.live++
				}
			}
			cycle := func() {
				s.journal(ks, &it)
				snapped = snapped && ks.base != nil && ks.base.ms[0] != nil && ks.base.ms[0] != ks.m.get(0)
				s.endJournal(ks)
			}
			cycle()
			allocs[round] = testing.AllocsPerRun(200, cycle)
		}
		for ri, m := range ks.m.all() {
			s.idle(ks, ri, m)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !snapped {
		t.Fatal("the journal took no snapshot of the live matchers")
	}
	if allocs != [2]float64{} {
		t.Fatalf("a journal's start and end allocate %v times (before and after a reload), want 0", allocs)
	}
}

// TestEndedJournalHoldsNoArray: a key whose journal ended holds no journal array; the
// shard keeps the array, cleared (no event stays reachable through it), and the next
// journal of another key takes it instead of allocating; an array grown past
// maxSpareJournal items is not kept.
func TestEndedJournalHoldsNoArray(t *testing.T) {
	eng, err := New(Config{Shards: 1, OutOfOrderness: time.Second}, testRuleSet(t), nopSink{}, nopDLQ{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eng.Start(ctx)
	defer eng.Close()
	if err := eng.onShards(ctx, func(s *shard) {
		a, b := s.key("a", 0), s.key("b", 0)
		s.journal(a, &item{ev: &event.Event{Key: "a", Time: 1, Seq: 1}, stable: true})
		arr := &a.base.journal[:1][0]
		s.endJournal(a)
		if a.pending() != nil {
			t.Errorf("an ended journal leaves the key an array of %d items", cap(a.pending()))
		}
		for _, kept := range s.spareBases { // the array is kept once, not also in the dropped base
			if kept.journal != nil {
				t.Errorf("a kept base holds a journal array of %d items", cap(kept.journal))
			}
		}
		if n := len(s.spareJournals); n != 1 || s.spareJournals[0][:1][0].ev != nil {
			t.Errorf("the shard keeps %d arrays, the first cleared: %v", n, n == 1 && s.spareJournals[0][:1][0].ev == nil)
			return // (not Fatal: this runs on the shard's goroutine)
		}
		s.journal(b, &item{ev: &event.Event{Key: "b", Time: 2, Seq: 2}, stable: true})
		if &b.base.journal[0] != arr || len(s.spareJournals) != 0 {
			t.Errorf("the next journal did not take the kept array")
		}
		for i := range maxSpareJournal + 1 {
			s.addJournal(b, item{ev: &event.Event{Key: "b", Time: 3 + int64(i), Seq: 3 + uint64(i)}, stable: true})
		}
		s.endJournal(b)
		if len(s.spareJournals) != 0 {
			t.Errorf("an array of %d items is kept", maxSpareJournal+2)
		}
	}); err != nil {
		t.Fatal(err)
	}
}
