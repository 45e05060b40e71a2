package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cepd/cepd/velocity"
)

// TestReviewVelocityEndsAcrossReloads: rule-set swaps while keys have journals and
// velocity state (rebindVelocity carries a rule's aggregates over to another layout,
// the reload folds the key's journal, detaching what its log attached). After every
// chunk, and across swaps between rule sets that move, keep and drop velocity rules,
// every known copy of an aggregate's end must be its EmptyAt (the "soon known ⇒ ends
// exact" invariant), no aggregate is two keys' at once, and no spare is any key's.
func TestReviewVelocityEndsAcrossReloads(t *testing.T) {
	evs := genEvents(47, 60, 5000)
	cfg := Config{Shards: 2, OutOfOrderness: 3 * time.Second}
	shuffled := arriveWithin(evs, rand.New(rand.NewPCG(9, 10)), cfg.OutOfOrderness)
	recs := records(shuffled)
	sets := []func() *RuleSet{
		func() *RuleSet { return velocityRuleSet(t) },
		func() *RuleSet { // the same rules in another order: every layout offset moves
			return testRulesOf(t, append(append([]string{}, testRules...), velocityRules[2], velocityRules[0], velocityRules[1])...)
		},
		func() *RuleSet { // the first velocity rule removed
			return testRulesOf(t, append(append([]string{}, velocityRules[1:]...), testRules...)...)
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, err := New(cfg, sets[0](), nopSink{}, nopDLQ{})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start(ctx)
	defer eng.Close()
	checked, swaps, journals := 0, 0, 0
	for i, c := 0, 0; i < len(recs); i, c = i+13, c+1 {
		if c%37 == 36 {
			swaps++
			if _, err := eng.SwapRules(ctx, sets[swaps%len(sets)]()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+13, len(recs))]); err != nil {
			t.Fatal(err)
		}
		var bad string
		if err := eng.onShards(ctx, func(s *shard) {
			owner := map[*velocity.Agg]string{}
			for _, ks := range s.list {
				for _, kv := range []*keyVelocity{ks.vel, liveOf(ks)} {
					if kv == nil || !kv.bounded() {
						continue
					}
					if msg, _ := checkEnds(kv); msg != "" {
						bad = fmt.Sprintf("key %s: %s", ks.key, msg)
					}
					checked++
				}
				if ks.velBase() != nil {
					journals++
				}
				for _, a := range keyAggregates(ks) {
					if o, ok := owner[a]; ok && o != ks.key {
						bad = "an aggregate is both " + o + "'s and " + ks.key + "'s"
					}
					owner[a] = ks.key
				}
			}
			if sb := spareFault(s, owner, func(*velocity.Agg) {}); sb != "" {
				bad = sb
			}
		}); err != nil {
			t.Fatal(err)
		}
		if bad != "" {
			t.Fatalf("after %d events, %d swaps: %s", i, swaps, bad)
		}
	}
	t.Logf("%d states checked, %d swaps, %d journals seen", checked, swaps, journals)
	if checked == 0 || swaps < 3 || journals == 0 {
		t.Fatalf("%d states checked, %d swaps, %d journals: the test does not test what it should", checked, swaps, journals)
	}
}
