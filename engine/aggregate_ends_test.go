package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestVelocityEndsAgainstAggregates: a key's velocity state keeps each aggregate's
// EmptyAt (keyVelocity.ends) so that expiry decides which to free without reading the
// aggregates it keeps. After every chunk of events, arriving out of order within the
// out-of-orderness (journals, re-matches, logs rolled back) and with windows emptying and
// refilling between a key's events, every known copy must be its aggregate's own EmptyAt,
// soon at most the earliest and late the latest: what expire would free at any time is
// then what reading every aggregate would free. The values are checked against the same
// events in order as well (checkAsInOrder).
func TestVelocityEndsAgainstAggregates(t *testing.T) {
	for _, keys := range []int{150, 40} { // a key's events ~30 s apart (windows 20 s–2 min), ~8 s
		evs := genEvents(43, keys, 6000)
		rs := velocityRuleSet(t)
		cfg := Config{Shards: 2, OutOfOrderness: 3 * time.Second}
		shuffled := arriveWithin(evs, rand.New(rand.NewPCG(7, 8)), cfg.OutOfOrderness)
		checked, partial := 0, 0 // states checked; of them, with ends that differ (a partial expiry can free some)
		ingestChecked(t, rs, cfg, records(shuffled), func(s *shard) (bad string) {
			for _, ks := range s.list {
				for _, kv := range []*keyVelocity{ks.vel, liveOf(ks)} {
					if kv == nil || !kv.bounded() {
						continue
					}
					if msg, differ := checkEnds(kv); msg != "" {
						bad = fmt.Sprintf("%d keys, key %s: %s", keys, ks.key, msg)
					} else if differ {
						partial++
					}
					checked++
				}
			}
			return bad
		})
		if checked == 0 || partial == 0 {
			t.Fatalf("%d keys: %d states checked, %d with ends that differ: the test does not test what it should", keys, checked, partial)
		}
		checkAsInOrder(t, "ends", rs, cfg, evs, shuffled)
	}
}

// liveOf is the live state of ks's journal (nil without one).
func liveOf(ks *keyState) *keyVelocity {
	if b := ks.velBase(); b != nil && b.jour != nil {
		return b.jour.live
	}
	return nil
}

// checkEnds says what is wrong with kv's copies of its aggregates' ends (known: bounded),
// and whether they differ among themselves.
func checkEnds(kv *keyVelocity) (bad string, differ bool) {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, a := range kv.aggs {
		if a == nil {
			continue
		}
		e := a.EmptyAt()
		if kv.ends[i] != e {
			return "an aggregate's end is not its EmptyAt", false
		}
		differ = differ || lo != math.MaxInt64 && e != lo
		lo, hi = min(lo, e), max(hi, e)
	}
	if kv.soon > lo || kv.late != hi {
		return "soon after the earliest end, or late not the latest", false
	}
	return "", differ
}
