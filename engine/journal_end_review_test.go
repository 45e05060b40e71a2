package engine

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestKnownDeadlinesExactBetweenSteps is the review of s14-journal's resettle and
// journalBase.set: through reuseRun's scenarios (events out of order and late, journals
// folded by MaxJournal, tight memory budgets, reloads between rule sets of other sizes
// and orders, a dense one of more than 64 rules among them, Inspect, checkpoints and
// restores in place, partitions idle with timers ahead), after every step every key's
// timer is at or before its matchers' earliest deadline, every key whose
// deadlines are known (keyState.dlOK, what resettle trusts when a journal ends) has the
// accounts and deadlines a read of every matcher gives, every base holds matchers only
// at the rules its set marks, and every kept base is empty.
func TestKnownDeadlinesExactBetweenSteps(t *testing.T) {
	sets := reuseRuleSets(t)
	var wide []string // 18×4 rules: dense slots and bases (more than maxSparse)
	for i := range 18 {
		for _, src := range testRules {
			wide = append(wide, strings.Replace(src, "id: ", fmt.Sprintf("id: w%d-", i), 1))
		}
	}
	sets = append(sets[:1:1], append([]*RuleSet{testRulesOf(t, wide...)}, sets[1:]...)...) // swapped to first
	if n := len(sets[1].Rules); n <= maxSparse {
		t.Fatalf("the wide set has %d rules", n)
	}
	for _, sc := range reuseScenariosIdle() {
		t.Run(fmt.Sprint(sc.seed), func(t *testing.T) {
			checked := 0
			reuseRunWith(t, sc, sets, func(eng *Engine) {
				if err := eng.onShards(t.Context(), func(s *shard) {
					for _, ks := range s.keys {
						if msg := knownExact(ks); msg != "" && !t.Failed() {
							t.Errorf("key %s: %s", ks.key, msg)
						}
						if ks.dlOK {
							checked++
						}
					}
					for i, b := range s.spareBases {
						for ri, m := range b.ms {
							if (m != nil || b.set != 0) && !t.Failed() {
								t.Errorf("kept base %d holds rule %d's matcher (set %b)", i, ri, b.set)
							}
						}
					}
				}); err != nil {
					t.Fatal(err)
				}
			})
			if checked == 0 {
				t.Fatal("no key had known deadlines")
			}
		})
	}
}

// knownExact describes how a key's known deadlines and accounts differ from a read of
// its matchers, how its timer is later than a matcher's deadline, or how its base holds
// a matcher its set does not mark ("": none).
func knownExact(ks *keyState) string {
	if b := ks.base; b != nil && len(b.ms) <= maxSparse {
		for ri, m := range b.ms {
			if m != nil && b.set&(1<<uint(ri)) == 0 {
				return fmt.Sprintf("base holds rule %d's matcher, its set is %b", ri, b.set)
			}
		}
	}
	next := int64(math.MaxInt64)
	for _, m := range ks.m.all() {
		next = min(next, m.Deadline())
	}
	if ks.rs != nil && ks.timerAt > next { // a timer would close the windows late
		return fmt.Sprintf("timer at %d, a matcher's deadline is %d", ks.timerAt, next)
	}
	if !ks.dlOK {
		return ""
	}
	bytes, n := 0, 0
	for ri, m := range ks.m.all() {
		if m.Idle() {
			return fmt.Sprintf("rule %d's matcher is idle with known deadlines", ri)
		}
		bytes += m.Usage().Bytes
		if n < maxKnown {
			if d := ks.dl.get(n, ks.newest); d != math.MinInt64 && d != m.Deadline() {
				return fmt.Sprintf("known deadline %d of rule %d is %d, its matcher's %d", n, ri, d, m.Deadline())
			}
		}
		n++
	}
	if n != int(ks.live) || bytes != ks.mbytes {
		return fmt.Sprintf("%d live (%d counted), %d bytes (%d accounted)", n, ks.live, bytes, ks.mbytes)
	}
	return ""
}
