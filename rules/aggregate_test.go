package rules

import (
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/nfa"
)

// TestAggConditionsClosureVsInterpreter: conditions reading agg give the same results
// (errors included) as closures and in the interpreter, for values present, absent
// (an empty window) and of both numeric kinds.
func TestAggConditionsClosureVsInterpreter(t *testing.T) {
	schema := fraudtest.Schema(t)
	fast, _ := NewEnv(schema, EnvOptions{})
	slow, _ := NewEnv(schema, EnvOptions{NoClosures: true})
	exprs := []string{
		"agg.n > 10",
		"agg.n == 3",
		"agg.avg * 3.0 < e.amount",
		"e.type == 'auth' && agg.n >= 2 && agg.avg > 10.0",
		"agg.n > 1 || agg.avg > 100.0",
		"has(agg.avg) && agg.avg > 1.0",
		"e.type == 'auth' && !has(agg.avg)",
	}
	vals := [][]event.Value{
		{event.Int(0), {}},
		{event.Int(3), event.Double(12.5)},
		{event.Int(11), event.Double(400)},
		{event.Int(2), {}},
	}
	evVals := make([]event.Value, len(schema.Fields))
	ti, _ := schema.Index("type")
	ai, _ := schema.Index("amount")
	evVals[ti], evVals[ai] = event.String("auth"), event.Double(100)
	ev := (&event.Event{Schema: schema}).SetValues(evVals)
	for _, src := range exprs {
		rule := "id: x\naggregates:\n  - {name: n, function: count, window: 1h}\n  - {name: avg, function: avg, field: amount, window: 1h}\npattern:\n  - name: a\n    where: " + src + "\n"
		cf := compileRule(t, fast, nil, "x.yaml", rule)
		cs := compileRule(t, slow, nil, "x.yaml", rule)
		cond := cf.conds[condKey{"a", nfa.CondWhere}]
		if cond == nil {
			t.Fatalf("%s: no condition (%v)", src, cf.conds)
		}
		if x := cond.x; x.mode != modeClosure && (src == exprs[0] || src == exprs[1]) {
			t.Fatalf("%s: not compiled to closures", src)
		}
		for _, v := range vals {
			sc := nfa.NewScratch()
			sc.Aux = &Aggregates{Values: v}
			got := cf.Program.CanStart(ev, sc)
			want := cs.Program.CanStart(ev, sc)
			if got != want {
				t.Errorf("%s with %v: closures %v, interpreter %v", src, v, got, want)
			}
		}
	}
}
