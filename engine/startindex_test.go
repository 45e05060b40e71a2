package engine

import (
	"fmt"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/nfa"
)

// TestStartIndexPinsInKeySpace: a key space runs its rules on events decoded by its own
// schema (the rule set's schema keyed by another field: the same fields, another
// *event.Schema); the start index's pins, compiled against the rule set's schema, rule
// out there as in the primary key space, and keep what CanStart takes.
func TestStartIndexPinsInKeySpace(t *testing.T) {
	schema := eventtest.Schema(t, keySpaceSchema)
	rs := compileRules(t, schema, []string{`
id: device-big-auths
key: device
within: 30s
pattern:
  - name: big
    where: e.kind == 'auth' && e.amount >= 500.0
    times: 2
`, `
id: card-big-auths
within: 30s
pattern:
  - name: big
    where: e.kind == 'auth' && e.amount >= 500.0
    times: 2
`})
	spaces, err := SplitKeySpaces(rs)
	if err != nil {
		t.Fatal(err)
	}
	if len(spaces) != 2 || spaces[1].Field != "device" {
		t.Fatalf("key spaces %+v", spaces)
	}
	for _, sp := range spaces {
		x := newStartIndex(sp.Rules)
		dec := jsondecode.NewDecoder(sp.Rules.Schema)
		sc := nfa.NewScratch()
		sc.Memo = nfa.NewMemo(sp.Rules.Slots)
		for _, c := range []struct {
			amount float64
			may    bool
		}{{10, false}, {499.5, false}, {500, true}, {900, true}} {
			rec := fmt.Sprintf(`{"id":"e1","card":"c1","device":"d1","merchant":7,"ts":1000,"kind":"auth","amount":%v}`, c.amount)
			var ev event.Event
			if err := dec.Decode([]byte(rec), &ev); err != nil {
				t.Fatal(err)
			}
			sc.Memo.Next()
			cand := x.candidates(&ev)
			prog := sp.Rules.Rules[0].Program
			may, starts := x.mayStart(cand, 0), prog.CanStart(&ev, sc)
			if starts && !may {
				t.Fatalf("key space %s, amount %v: the index rules out a rule CanStart takes", sp.Field, c.amount)
			}
			if may != c.may {
				t.Errorf("key space %s, amount %v: the index keeps the rule: %v, want %v (its pin e.amount >= 500.0)", sp.Field, c.amount, may, c.may)
			}
		}
	}
}
