package engine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

// gateRule's aggregates come in runs that look alike to the gate (velPlan.sameGate,
// rules.Aggregate.SameGate) but are not all the same: one where with different group
// fields (an optional device, an optional merchant, none), one where that fails at run
// time for an event without a device (counted, read as false), a group field without a
// where. Its first step takes few events, so that most events are observed without a need
// for the values (the gate path). %[1]s is where gateRules puts the reference's dummies.
const gateRule = `
id: gates
within: 30s
rearm: {after: 4s}
aggregates:
` + gateAggregates + `
pattern:
  - name: a
    where: e.kind == 'auth' && e.amount > 500.0
  - name: r
    contiguity: any
    where: e.kind == 'refund' && agg.a3 > 100.0
emit:
  a1: agg.a1
  a2: agg.a2
  a3: agg.a3
  a4: agg.a4
  a5: agg.a5
  a6: agg.a6
  a8: agg.a8
---
id: gates-refund
aggregates:
` + gateAggregates + `
pattern:
  - name: r
    where: e.kind == 'refund'
emit:
  a1: agg.a1
  a2: agg.a2
  a3: agg.a3
  a4: agg.a4
  a5: agg.a5
  a6: agg.a6
  a7: agg.a7
  a8: agg.a8
`

// gateAggregates are gateRule's aggregates. The first takes no refund: a refund at a
// key without velocity state makes one only when the gate is asked again for the
// others (velPlan.takes), and gates-refund reads its values at once.
const gateAggregates = `  - {name: a1, function: count, where: e.kind == 'auth', by: device, window: 20s}%[1]s
  - {name: a2, function: count, where: e.kind == 'auth', by: merchant, window: 20s}%[1]s
  - {name: a3, function: sum, field: amount, where: e.kind == 'auth', window: 20s}%[1]s
  - {name: a4, function: count, where: e.device == 'd1', window: 15s}%[1]s
  - {name: a5, function: distinct, field: merchant, where: e.device == 'd1', window: 15s}%[1]s
  - {name: a6, function: count, where: e.device == 'd1', by: merchant, window: 15s}%[1]s
  - {name: a7, function: max, field: amount, by: device, window: 10s}%[1]s
  - {name: a8, function: distinct, field: kind, by: device, window: 10s}`

// gateDummy is put between every two of gateRule's aggregates in the reference: an
// aggregate with a where of its own (the %d makes each differ) that takes nothing, so
// that no aggregate shares the gate of the one before it and each is asked on its own.
const gateDummy = "\n  - {name: z%d, function: count, where: e.amount < -%d.0, window: 1s}"

// gateRules returns gateRule's two rules as they are (reference false) or with the
// dummies.
func gateRules(reference bool) []string {
	parts := strings.Split(gateRule, "%[1]s")
	var b strings.Builder
	for i, p := range parts {
		b.WriteString(p)
		if i < len(parts)-1 && reference {
			fmt.Fprintf(&b, gateDummy, i+1, i+1)
		}
	}
	return strings.Split(b.String(), "---\n")
}

// gateEvents makes n events over keys cards, a fifth without a device and a fifth
// without a merchant, in time order; arriving up to nine tenths of ooo late (ooo 0: in
// order).
func gateEvents(seed uint64, keys, n int, ooo time.Duration) []Record {
	r := rand.New(rand.NewPCG(seed, 29))
	ts := int64(1_700_000_000_000)
	kinds := []string{"auth", "auth", "auth", "capture", "refund"}
	type timed struct {
		at  int64
		rec []byte
	}
	evs := make([]timed, n)
	for i := range evs {
		ts += int64(r.IntN(300))
		m := map[string]any{"id": fmt.Sprintf("e%d", i), "card": fmt.Sprintf("c%d", r.IntN(keys)), "ts": ts,
			"kind": kinds[r.IntN(len(kinds))], "amount": []float64{1, 2.5, 120, 800}[r.IntN(4)]}
		if r.IntN(5) > 0 {
			m["device"] = fmt.Sprintf("d%d", r.IntN(3))
		}
		if r.IntN(5) > 0 {
			m["merchant"] = r.IntN(4)
		}
		at := ts
		if ooo > 0 {
			at += r.Int64N(ooo.Milliseconds() * 9 / 10)
		}
		b, _ := json.Marshal(m)
		evs[i] = timed{at, b}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	recs := make([]Record, n)
	for i, e := range evs {
		recs[i] = Record{Value: e.rec, Offset: int64(i)}
	}
	return recs
}

// TestVelocityGateAgainstEachAsked: the gate asked once for a run of aggregates sharing
// it (velPlan.takes, and velPlan.observe for a rule that needs no values) against the
// reference where every aggregate is asked on its own (dummies between them), and
// against computing every value for every event (shard.vall): the same alerts, values
// included, and the same count of evaluation errors (the where failing for an event
// without a device is counted, never crashes), in order and out of order, 1 and 2 shards.
func TestVelocityGateAgainstEachAsked(t *testing.T) {
	for trial := range 4 {
		ooo := []time.Duration{0, 3 * time.Second, 5 * time.Second, 2 * time.Second}[trial]
		cfg := Config{Shards: 1 + trial%2, OutOfOrderness: ooo}
		recs := gateEvents(uint64(4100+trial), []int{3, 60, 7, 200}[trial], 4000, ooo) // (60, 200: most keys lose their state between events)
		type result struct {
			lines []string
			errs  uint64
			st    Snapshot
		}
		runOne := func(rs *RuleSet, all bool) result {
			sink := &sinkCollector{}
			eng, ctx, stop := startEngine(t, cfg, rs, sink, &dlqCollector{})
			defer stop()
			if err := eng.onShards(ctx, func(s *shard) { s.vall = all }); err != nil {
				t.Fatal(err)
			}
			ingestChunks(t, ctx, eng, recs)
			if err := eng.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			return result{gateLines(t, sink.all), rs.Rules[0].EvalErrors() + rs.Rules[1].EvalErrors(), eng.Stats().Snapshot()}
		}
		name := fmt.Sprintf("trial %d (out-of-orderness %v, %d shards)", trial, ooo, cfg.Shards)
		got := runOne(keySpaceRulesOf(t, gateRules(false)...), false)
		for _, ref := range []struct {
			what string
			r    result
		}{
			{"every aggregate asked on its own", runOne(keySpaceRulesOf(t, gateRules(true)...), false)},
			{"every value computed", runOne(keySpaceRulesOf(t, gateRules(false)...), true)},
		} {
			want := ref.r
			if len(want.lines) < 10 {
				t.Fatalf("%s: %d alerts: weak test data", name, len(want.lines))
			}
			if want.errs == 0 {
				t.Fatalf("%s: no evaluation errors: the failing where is not tested", name)
			}
			if ooo > 0 && want.st.Rematched == 0 {
				t.Fatalf("%s: nothing re-matched: weak test", name)
			}
			if !slices.Equal(got.lines, want.lines) {
				for i := range min(len(got.lines), len(want.lines)) {
					if got.lines[i] != want.lines[i] {
						t.Fatalf("%s: %d alerts, %s %d; first difference:\n%s\nreference:\n%s", name, len(got.lines), ref.what, len(want.lines), got.lines[i], want.lines[i])
					}
				}
				t.Fatalf("%s: %d alerts, %s %d", name, len(got.lines), ref.what, len(want.lines))
			}
			// (With two shards the count depends on when the shards' watermarks move.)
			if cfg.Shards == 1 && got.errs != want.errs {
				t.Fatalf("%s: %d evaluation errors, %s %d", name, got.errs, ref.what, want.errs)
			}
		}
		t.Logf("%s: %d alerts, %d evaluation errors, %d re-matched", name, len(got.lines), got.errs, got.st.Rematched)
	}
}

// gateLines is alertLines without what names the rule's version (its fingerprint, which
// the reference's dummies change): the alert's id and rule_version.
func gateLines(t *testing.T, as []*alerts.Alert) []string {
	t.Helper()
	var lines []string
	for _, l := range alertLines(as) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "id")
		delete(m, "rule_version")
		b, _ := json.Marshal(m)
		lines = append(lines, string(b))
	}
	sort.Strings(lines)
	return lines
}
