package engine

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// TestJournalEndTimer: a key whose journal ends (trim) with more live matchers than it
// keeps deadlines of (maxKnown) is rescheduled at the earliest deadline a read of every
// matcher gives. resettle takes the first maxKnown from keyState.dl and reads the rest;
// here the earliest is a matcher's after the first maxKnown.
func TestJournalEndTimer(t *testing.T) {
	var srcs []string
	for i, w := range []string{"41s", "37s", "31s", "29s", "23s", "17s", "3s"} { // the earliest last
		srcs = append(srcs, fmt.Sprintf(`
id: refund-within-%d
within: %s
pattern:
  - name: paid
    where: e.kind == 'auth'
  - name: refunded
    contiguity: any
    where: e.kind == 'refund'
`, i, w))
	}
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: time.Second}, testRulesOf(t, srcs...), &sinkCollector{}, &dlqCollector{})
	defer stop()
	const at = 1_700_000_000_000
	// c1's auth starts every rule; c2's event 2.5 s later puts c1's journal behind the
	// watermark: trim ends it
	evs := []testEvent{{ID: "1", Card: "c1", TS: at, Kind: "auth", Amount: 5}, {ID: "2", Card: "c2", TS: at + 2500, Kind: "login"}}
	if _, err := eng.Ingest(ctx, 0, records(evs)); err != nil {
		t.Fatal(err)
	}
	if err := eng.onShards(ctx, func(s *shard) {
		ks := s.keys["c1"]
		if ks == nil || ks.base != nil || len(ks.pending()) != 0 || int(ks.live) != len(srcs) || !ks.dlOK {
			t.Errorf("c1: %+v, want its journal ended, %d live matchers with known deadlines", ks, len(srcs))
			return
		}
		want := int64(math.MaxInt64)
		for _, m := range ks.m.all() {
			want = min(want, m.Deadline())
		}
		if ks.timerAt != want || want != at+3000 {
			t.Errorf("c1's timer at %d, its matchers' earliest deadline is %d (want %d)", ks.timerAt, want, int64(at+3000))
		}
	}); err != nil {
		t.Fatal(err)
	}
}
