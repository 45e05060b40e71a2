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
			for ri := range ks.m { // every rule live: the base takes a snapshot of each
				if ks.m[ri] == nil {
					ks.m[ri] = s.newMatcher(ri)
					ks.live++
				}
			}
			cycle := func() {
				s.journal(ks, &it)
				snapped = snapped && ks.base != nil && ks.base[0] != nil && ks.base[0] != ks.m[0]
				s.endJournal(ks)
			}
			cycle()
			allocs[round] = testing.AllocsPerRun(200, cycle)
		}
		for ri := range ks.m {
			s.idle(ks, ri, ks.m[ri])
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
