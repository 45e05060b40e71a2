package rules

import (
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/nfa"
)

// TestAggregateSameGate: SameGate holds exactly for an aggregate with the previous one's
// group field and where (the same memo slot, or neither has a where), and never without
// a registry; aggregates it pairs admit the same events, and an event an aggregate does
// not admit is not taken (Read), so that the engine may skip it.
func TestAggregateSameGate(t *testing.T) {
	schema := fraudtest.Schema(t)
	env, _ := NewEnv(schema, EnvOptions{})
	const rule = `id: gates
aggregates:
  - {name: a, function: count, where: "e.type == 'auth'", window: 1h}
  - {name: b, function: sum, field: amount, where: "e.type == 'auth'", window: 1h}
  - {name: c, function: distinct, field: amount, where: "e.type == 'auth'", window: 1h, by: merchant_id}
  - {name: d, function: count, where: "e.type == 'auth'", window: 30m, by: merchant_id}
  - {name: e, function: count, window: 1h, by: merchant_id}
  - {name: f, function: max, field: amount, window: 1h, by: merchant_id}
  - {name: g, function: count, window: 1h}
  - {name: h, function: count, where: "e.type == 'refund'", window: 1h}
  - {name: i, function: count, where: "e.type == 'refund' && e.amount > 5.0", window: 1h}
pattern:
  - name: x
    where: agg.a > 100
`
	same := []bool{false, true, false, true, false, true, false, false, false}
	c := compileRule(t, env, NewRegistry(), "gates.yaml", rule)
	aggs := c.Aggregates()
	for j := 1; j < len(aggs); j++ {
		if got := aggs[j].SameGate(aggs[j-1]); got != same[j] {
			t.Errorf("SameGate(%s, %s) = %v, want %v", aggs[j].Name, aggs[j-1].Name, got, same[j])
		}
	}
	noReg := compileRule(t, env, nil, "gates.yaml", rule).Aggregates()
	if noReg[1].SameGate(noReg[0]) {
		t.Errorf("without a registry (no memo slot) SameGate must not pair wheres")
	}
	ti, _ := schema.Index("type")
	ai, _ := schema.Index("amount")
	mi, _ := schema.Index("merchant_id")
	memo := nfa.NewMemo(64)
	for _, typ := range []string{"auth", "refund", ""} {
		for _, amt := range []event.Value{{}, event.Double(3), event.Double(30)} {
			for _, merch := range []event.Value{{}, event.String("m1")} {
				vals := make([]event.Value, len(schema.Fields))
				if typ != "" {
					vals[ti] = event.String(typ)
				}
				vals[ai], vals[mi] = amt, merch
				ev := (&event.Event{Schema: schema}).SetValues(vals)
				memo.Next()
				ctx := &nfa.EvalContext{Memo: memo}
				for j, g := range aggs {
					adm := g.Admits(ev, ctx)
					if g.Read(ev, ctx).Taken() && !adm {
						t.Errorf("%s takes an event it does not admit (type %q amount %v merchant %v)", g.Name, typ, amt, merch)
					}
					if j > 0 && same[j] && adm != aggs[j-1].Admits(ev, ctx) {
						t.Errorf("%s and %s pair but admit differently (type %q amount %v merchant %v)", g.Name, aggs[j-1].Name, typ, amt, merch)
					}
				}
			}
		}
	}
}
