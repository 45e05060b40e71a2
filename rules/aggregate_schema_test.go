package rules

import (
	"math"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/velocity"
)

// TestAggregateFieldAddedLive: a rule compiled against a schema with a field added live
// (event.Compatible) meets events decoded before the change, which have fewer values: its
// aggregates over the new field (as the value and as the group) take the field as absent,
// where a read by position would go past the event's values.
func TestAggregateFieldAddedLive(t *testing.T) {
	old, err := event.ParseSchema([]byte("key: card\ntime: ts\nfields:\n  card: string\n  ts: int\n  amount: double?\n"))
	if err != nil {
		t.Fatal(err)
	}
	wider, err := event.ParseSchema([]byte("key: card\ntime: ts\nfields:\n  card: string\n  ts: int\n  amount: double?\n  device: string?\n  score: double?\n"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewEnv(wider, EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	src := "id: x\naggregates:\n  - {name: scores, function: sum, field: score, window: 1h}\n  - {name: per_device, function: count, by: device, window: 1h}\n  - {name: n, function: count, window: 1h}\npattern:\n  - name: a\n    where: agg.n > 0\n"
	c := compileRule(t, env, nil, "x.yaml", src)
	before := (&event.Event{Schema: old}).SetValues([]event.Value{event.String("c1"), event.Int(1000), event.Double(5)})
	var ctx nfa.EvalContext
	for i, g := range c.Aggregates() {
		a := velocity.New(g.Spec)
		takes := g.Takes(before, &ctx)
		v := g.Observe(a, g.Read(before, &ctx), 1000)
		switch i {
		case 0: // sum of score: the event has no score
			if takes || g.Empty(before).AsDouble() != 0 || v.AsDouble() != 0 {
				t.Errorf("sum over the new field: takes %v, value %v", takes, v)
			}
		case 1: // count by device: no group
			if takes || v.Present() || g.Empty(before).Present() || a.EmptyAt() != math.MinInt64 {
				t.Errorf("count by the new field: takes %v, value %v", takes, v)
			}
		case 2: // plain count: the event counts
			if !takes || v.AsInt() != 1 {
				t.Errorf("count: takes %v, value %v", takes, v)
			}
		}
	}
}
