package engine

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cepd/cepd/velocity"
)

// TestSpareAggregatesScenarios runs the reuse scenarios (reloads between rule sets of
// other layouts, checkpoints, restores in place and into fresh engines, memory budgets,
// idle partitions) with the velocity rules in every set and, after every step, checks
// on each shard the aggregates freed by expiry for reuse (velLayout.spare), in the
// current plan's layout and in any older one a key still points to:
//   - no spare is in two places, nor reachable from a key: its live aggregates, those
//     its journal's log rolls back to, nor any record of that log (an Undo would write
//     into the spare, or put it back into the key);
//   - no array of a spare (a window's entries or values, its groups) is an array of an
//     aggregate a key can reach;
//   - a spare is detached from every log, empty (encodes as new) and, in the current
//     layout, of the spec of its place.
func TestSpareAggregatesScenarios(t *testing.T) {
	scs := reuseScenariosIdle()
	for i, sc := range scs {
		sc.keys = 200 // a key's events ~40 s apart: its windows (20 s–2 min) empty between them
		var failed string
		spares, reused := 0, 0
		waited := map[*velocity.Agg]bool{}
		reuseRunWith(t, sc, velocityReuseRuleSets(t), func(eng *Engine) {
			if failed != "" {
				return
			}
			if err := eng.onShards(context.Background(), func(s *shard) {
				msg, n, r := checkSpareScenario(s, waited)
				spares += n
				reused += r
				if msg != "" && failed == "" {
					failed = msg
				}
			}); err != nil {
				t.Fatal(err)
			}
		})
		if failed != "" {
			t.Fatalf("scenario %d: %s", i, failed)
		}
		t.Logf("scenario %d: %d spares seen over the steps, %d reused", i, spares, reused)
		if spares == 0 || reused == 0 {
			t.Fatalf("scenario %d: %d spares seen, %d reused: the test does not test what it should", i, spares, reused)
		}
	}
}

// velocityReuseRuleSets are the rule sets TestSpareAggregatesScenarios swaps between:
// the velocity rules at other indexes (so at other places of a key's layout), one of them
// changed (its windows: other specs at the same places), one set without them, and one
// with a copy of a velocity rule under another id.
func velocityReuseRuleSets(t *testing.T) []*RuleSet {
	changed := strings.ReplaceAll(velocityRules[0], "window: 30s", "window: 25s")
	copied := strings.Replace(velocityRules[0], "id: ", "id: again-", 1)
	rev := slices.Clone(velocityRules)
	slices.Reverse(rev)
	return []*RuleSet{
		velocityRuleSet(t),
		testRulesOf(t, append(slices.Clone(testRules), velocityRules...)...),
		testRulesOf(t, append(append([]string{changed}, velocityRules[1:]...), testRules[:2]...)...),
		testRuleSet(t),
		testRulesOf(t, append(append(rev, copied), testRules[1])...),
	}
}

// checkSpareScenario checks TestSpareAggregatesScenarios' rules on shard s; it returns
// what breaks them ("" if none), how many spares there are and how many that waited
// before (waited) are a key's now.
func checkSpareScenario(s *shard, waited map[*velocity.Agg]bool) (string, int, int) {
	reach := map[*velocity.Agg]string{}
	arrays := map[uintptr]string{}
	lays := map[*velLayout]bool{}
	if p := s.velocity(); p != nil {
		lays[p.lay] = true
	}
	reused := 0
	for _, ks := range s.list {
		for _, kv := range []*keyVelocity{ks.vel, ks.velBase()} {
			if kv != nil {
				lays[kv.lay] = true
			}
		}
		for _, a := range keyAggregates(ks) {
			reach[a] = ks.key
			for _, p := range aggArrays(a) {
				arrays[p] = ks.key
			}
			if waited[a] {
				reused++
				delete(waited, a)
			}
		}
		if b := ks.velBase(); b != nil && b.jour != nil && b.jour.log != nil {
			for _, a := range logAggregates(b.jour.log) {
				reach[a] = ks.key + " (its log)"
			}
		}
	}
	seen := map[*velocity.Agg]bool{}
	n := 0
	for lay := range lays {
		for i, sp := range lay.spare {
			for _, a := range sp {
				n++
				waited[a] = true
				switch {
				case seen[a]:
					return fmt.Sprintf("aggregate %p is a spare twice", a), n, reused
				case reach[a] != "":
					return "a spare aggregate is key " + reach[a] + "'s", n, reused
				case !reflect.ValueOf(a).Elem().FieldByName("u").IsNil():
					return "a spare aggregate is attached to a log", n, reused
				case a.EmptyAt() != math.MinInt64 || string(a.AppendBinary(nil)) != string(velocity.New(a.Spec()).AppendBinary(nil)):
					return "a spare aggregate holds something", n, reused
				}
				seen[a] = true
				for _, p := range aggArrays(a) {
					if o := arrays[p]; o != "" {
						return "a spare aggregate's array is one of key " + o + "'s aggregates'", n, reused
					}
				}
				if p := s.velocity(); p != nil && lay == p.lay && a.Spec() != specAt(p, i) {
					return fmt.Sprintf("a spare of spec %+v at place %d of spec %+v", a.Spec(), i, specAt(p, i)), n, reused
				}
			}
		}
	}
	return "", n, reused
}

// specAt is the spec of place i of the plan's layout.
func specAt(p *velPlan, i int) velocity.Spec {
	for ri, aggs := range p.aggs {
		if off := int(p.lay.off[ri]); i >= off && i < off+len(aggs) {
			return aggs[i-off].Spec
		}
	}
	return velocity.Spec{}
}

// aggArrays lists the arrays (by address, those with room) an aggregate holds: its
// window's entries and values, its groups and their windows'.
func aggArrays(a *velocity.Agg) []uintptr {
	var out []uintptr
	add := func(s reflect.Value) {
		if s.Cap() > 0 {
			out = append(out, s.Pointer())
		}
	}
	win := func(w reflect.Value) {
		add(w.FieldByName("q"))
		add(w.FieldByName("dn"))
	}
	v := reflect.ValueOf(a).Elem()
	win(v.FieldByName("w"))
	if h := v.FieldByName("byHdr"); !h.IsNil() {
		gs := h.Elem().FieldByName("gs")
		add(gs)
		for i := range gs.Len() {
			win(gs.Index(i).FieldByName("w"))
		}
	}
	return out
}

// logAggregates lists the aggregates the records of log u refer to: those whose headers
// it logged, and those its slots held.
func logAggregates(u *velocity.Undo) []*velocity.Agg {
	var out []*velocity.Agg
	v := reflect.ValueOf(u).Elem()
	for _, f := range []string{"aggQs", "aggDs", "aggGs"} {
		recs := v.FieldByName(f)
		for i := range recs.Len() {
			if p := recs.Index(i).FieldByName("a"); !p.IsNil() {
				out = append(out, (*velocity.Agg)(p.UnsafePointer()))
			}
		}
	}
	slots := v.FieldByName("slots")
	for i := range slots.Len() {
		if p := slots.Index(i).FieldByName("old"); !p.IsNil() {
			out = append(out, (*velocity.Agg)(p.UnsafePointer()))
		}
	}
	return out
}
