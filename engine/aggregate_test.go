package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

// velocityRules use every aggregate function, a group field and both rearm policies.
var velocityRules = []string{`
id: every-auth
aggregates:
  - {name: n, function: count, where: e.kind == 'auth', window: 30s}
  - {name: total, function: sum, field: amount, where: e.kind == 'auth', window: 30s}
  - {name: mean, function: avg, field: amount, window: 1m}
  - {name: low, function: min, field: amount, window: 20s}
  - {name: high, function: max, field: amount, where: e.kind != 'login', window: 45s}
  - {name: kinds, function: distinct, field: kind, window: 1m}
  - {name: same_kind, function: count, window: 40s, by: kind}
pattern:
  - name: a
    where: e.kind == 'auth'
emit:
  n: agg.n
  total: agg.total
  mean: agg.mean
  low: agg.low
  high: agg.high
  kinds: agg.kinds
  same_kind: agg.same_kind
`, `
id: busy-card
rearm: once_per_window
aggregates:
  - {name: auths, function: count, where: e.kind == 'auth', window: 1m}
pattern:
  - name: a
    where: e.kind == 'auth' && agg.auths >= 4
emit:
  auths: agg.auths
`, `
id: refund-after-spend
rearm: {after: 20s}
aggregates:
  - {name: spent, function: sum, field: amount, where: e.kind == 'capture', window: 2m}
within: 1m
pattern:
  - name: big
    where: e.kind == 'capture' && agg.spent > 300.0
  - name: refund
    where: e.kind == 'refund'
emit:
  spent_at_refund: agg.spent
`}

func velocityRuleSet(t testing.TB) *RuleSet {
	t.Helper()
	return testRulesOf(t, append(velocityRules, testRules...)...)
}

// TestVelocityCheckpointRestore: run, checkpoint mid-stream, restore into a fresh engine
// (another shard count) and go on: the alerts, aggregate values included, are those of
// one uninterrupted run. Also with events out of order per key, so that checkpoints
// carry journals and the aggregates' base state.
func TestVelocityCheckpointRestore(t *testing.T) {
	t.Run("in order", func(t *testing.T) { checkpointRestoreRules(t, velocityRuleSet(t), genEvents(31, 40, 5000), 0) })
	t.Run("out of order per key", func(t *testing.T) {
		evs := genEvents(31, 40, 5000)
		delayWithinKey(evs)
		checkpointRestoreRules(t, velocityRuleSet(t), evs, 2*time.Second)
	})
}

// TestVelocitySameAlertsAnyOrder: aggregate values and rearm holds do not depend on the
// shard count, the batching, or events arriving out of order per key within the
// out-of-orderness (re-matched from the key's base).
func TestVelocitySameAlertsAnyOrder(t *testing.T) {
	rs := velocityRuleSet(t)
	evs := genEvents(32, 30, 4000)
	want, _, _ := run(t, rs, Config{Shards: 1}, records(evs), 4000)
	if len(want) == 0 {
		t.Fatal("no alerts")
	}
	got, _, _ := run(t, rs, Config{Shards: 3}, records(evs), 7)
	if !slices.Equal(got, want) {
		t.Fatalf("3 shards, batches of 7: %d alerts, want %d", len(got), len(want))
	}
	r := rand.New(rand.NewPCG(4, 5))
	at := map[string]int64{}
	for _, e := range evs {
		at[e.ID] = e.TS + int64(r.IntN(2000))
	}
	shuffled := slices.Clone(evs)
	sort.SliceStable(shuffled, func(i, j int) bool { return at[shuffled[i].ID] < at[shuffled[j].ID] })
	got, _, st := run(t, rs, Config{Shards: 2, OutOfOrderness: 3 * time.Second}, records(shuffled), 50)
	if st.Rematched == 0 {
		t.Fatal("nothing re-matched: weak test")
	}
	// As for every rule: each alert of the sorted order is delivered (by id), and the
	// alerts the first order derived that the corrected one does not are counted as
	// superseded. An alert derived by both leaves with the emit values of the first.
	gotIDs, wantIDs := lineIDs(t, got), lineIDs(t, want)
	if missing := multisetMinus(wantIDs, gotIDs); len(missing) > 0 {
		t.Fatalf("out of order: %d alerts of the sorted input missing, e.g. %s", len(missing), missing[0])
	}
	if extra := multisetMinus(gotIDs, wantIDs); uint64(len(extra)) != st.Superseded {
		t.Fatalf("out of order: %d extra alerts, %d counted as superseded", len(extra), st.Superseded)
	}
}

// lineIDs returns the sorted ids of alerts written as JSON lines.
func lineIDs(t *testing.T, lines []string) []string {
	ids := make([]string, len(lines))
	for i, l := range lines {
		var a struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		ids[i] = a.ID
	}
	sort.Strings(ids)
	return ids
}

// TestVelocityAgainstRescan: every auth alerts under every-auth with its aggregate
// values, which must equal a rescan of the key's events in each window.
func TestVelocityAgainstRescan(t *testing.T) {
	rs := velocityRuleSet(t)
	evs := genEvents(33, 25, 5000)
	lines, _, _ := run(t, rs, Config{Shards: 2}, records(evs), 64)
	byKey := map[string][]testEvent{}
	for _, e := range evs {
		byKey[e.Card] = append(byKey[e.Card], e)
	}
	checked := 0
	for _, l := range lines {
		var a struct {
			RuleID string `json:"rule_id"`
			Key    string `json:"key"`
			Steps  []struct {
				Events []struct {
					ID string `json:"id"`
				} `json:"events"`
			} `json:"steps"`
			Emit map[string]any `json:"emit"`
		}
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		if a.RuleID != "every-auth" {
			continue
		}
		id := a.Steps[0].Events[0].ID
		var upto []testEvent
		var cur testEvent
		for _, e := range byKey[a.Key] {
			upto = append(upto, e)
			if e.ID == id {
				cur = e
				break
			}
		}
		want := rescan(upto, cur)
		for _, name := range []string{"n", "total", "mean", "low", "high", "kinds", "same_kind"} {
			v, has := a.Emit[name]
			w, ok := want[name]
			switch {
			case !has:
				t.Fatalf("%s %s: no emit value %s", a.Key, id, name)
			case !ok && v != nil:
				t.Fatalf("%s %s: %s = %v, want no value", a.Key, id, name, v)
			case ok && (v == nil || math.Abs(toF(v)-w) > 1e-9):
				t.Fatalf("%s %s: %s = %v (%v), want %v", a.Key, id, name, v, a.Emit[name+"_error"], w)
			}
		}
		checked++
	}
	if checked < 500 {
		t.Fatalf("only %d alerts checked", checked)
	}
}

func toF(v any) float64 {
	f, _ := v.(float64)
	return f
}

// rescan computes every-auth's aggregates for cur from the key's events up to it.
func rescan(evs []testEvent, cur testEvent) map[string]float64 {
	in := func(e testEvent, w int64) bool { return cur.TS-e.TS < w }
	out := map[string]float64{}
	var n, total, sum, cnt float64
	low, high := math.Inf(1), math.Inf(-1)
	kinds := map[string]bool{}
	same := 0.0
	for _, e := range evs {
		if e.Kind == "auth" && in(e, 30_000) {
			n++
			total += e.Amount
		}
		if in(e, 60_000) {
			sum += e.Amount
			cnt++
			kinds[e.Kind] = true
		}
		if in(e, 20_000) {
			low = math.Min(low, e.Amount)
		}
		if e.Kind != "login" && in(e, 45_000) {
			high = math.Max(high, e.Amount)
		}
		if e.Kind == cur.Kind && in(e, 40_000) {
			same++
		}
	}
	out["n"], out["total"], out["kinds"], out["same_kind"] = n, total, float64(len(kinds)), same
	if cnt > 0 {
		out["mean"] = sum / cnt
	}
	if !math.IsInf(low, 0) {
		out["low"] = low
	}
	if !math.IsInf(high, 0) {
		out["high"] = high
	}
	return out
}

// TestRearmOncePerWindow: fifteen authorisations in a burst alert once under
// rearm: once_per_window, and again once the window has passed since the alert.
func TestRearmOncePerWindow(t *testing.T) {
	rs := velocityRuleSet(t)
	var evs []testEvent
	ts := int64(1_700_000_000_000)
	for i := range 15 {
		evs = append(evs, testEvent{ID: fmt.Sprint("a", i), Card: "c", TS: ts + int64(i)*1000, Kind: "auth", Amount: 10})
	}
	for i := range 4 { // 61 s after the alert (at the 4th event): armed again
		evs = append(evs, testEvent{ID: fmt.Sprint("b", i), Card: "c", TS: ts + 3000 + 61_000 + int64(i)*1000, Kind: "auth", Amount: 10})
	}
	lines, _, st := run(t, rs, Config{Shards: 1}, records(evs), 100)
	var got []string
	for _, l := range lines {
		var a struct {
			RuleID string `json:"rule_id"`
			Steps  []struct {
				Events []struct {
					ID string `json:"id"`
				} `json:"events"`
			} `json:"steps"`
		}
		_ = json.Unmarshal([]byte(l), &a)
		if a.RuleID == "busy-card" {
			got = append(got, a.Steps[0].Events[0].ID)
		}
	}
	sort.Strings(got)
	if want := []string{"a3", "b0"}; !slices.Equal(got, want) {
		t.Fatalf("busy-card alerted on %v, want %v", got, want)
	}
	if st.RearmDropped == 0 {
		t.Fatal("no match counted as dropped by the rearm hold")
	}
}

// aFirstRule is a velocity rule with a rearm hold that sorts before the others (and never
// alerts): a rule set it is added to lays every rule, its aggregates and its hold out at
// another place.
const aFirstRule = `
id: a-first
rearm: {after: 5s}
aggregates:
  - {name: c, function: count, window: 10s}
  - {name: s, function: sum, field: amount, window: 10s}
pattern:
  - name: a
    where: e.kind == 'login' && agg.c > 100000
`

// TestReloadMovedVelocityRules swaps to the same rules plus one with an aggregate and a
// rearm hold that sorts first (and never alerts): every rule moves to another index and
// its aggregates and hold to another place in the key's layout; each key's state must
// follow its rule, so the alerts are exactly those of a run without a reload.
func TestReloadMovedVelocityRules(t *testing.T) {
	rs := velocityRuleSet(t)
	recs := records(genEvents(41, 30, 6000))
	want, _, _ := run(t, rs, Config{Shards: 2}, recs, 500)
	srcs := append([]string{aFirstRule}, velocityRules...)
	got, st, _, _ := runWithSwap(t, velocityRuleSet(t), compileSet(t, rs, append(srcs, testRules...)), recs, 3000)
	if n := len(rs.Rules); st.Kept != n {
		t.Fatalf("reload kept %d rules, want %d", st.Kept, n)
	}
	g := alertLines(got)
	if !slices.Equal(g, want) {
		t.Fatalf("moving the velocity rules changed the alerts: %d, want %d", len(g), len(want))
	}
}
