package nfa

import (
	"fmt"
	"testing"

	"github.com/cepd/cepd/event"
)

// TestStartIndexLookupMatchesMap: the first level's scan of few values (lookup) finds
// exactly what the map does, for every count of values around maxFew, for the values
// themselves and for strings of the same length, prefixes, extensions and the empty
// string.
func TestStartIndexLookupMatchesMap(t *testing.T) {
	for n := 0; n <= maxFew+2; n++ {
		x := &StartIndex{by: map[string]int{}}
		var probes []string
		for i := range n {
			v := fmt.Sprintf("type%c%d", 'a'+i, i%3)
			x.by[v] = i
			probes = append(probes, v, v[:len(v)-1], v+"x", fmt.Sprintf("type%c%d", 'a'+i, i%3+1))
		}
		probes = append(probes, "", "auth", "typez0")
		x.indexFew()
		if (x.few != nil) != (n > 0 && n <= maxFew) {
			t.Fatalf("%d values: scan list %v", n, x.few)
		}
		for _, v := range probes {
			wi, wok := x.by[v]
			gi, gok := x.lookup(v)
			if gi != wi || gok != wok {
				t.Fatalf("%d values: lookup(%q) = %d, %v; the map says %d, %v", n, v, gi, gok, wi, wok)
			}
		}
	}
}

// TestStartIndexDecidedPins: the pins on the first level's field, whose verdicts
// Candidates records from the value it looked up (StartIndex.decided), rule out exactly
// the programs that testing every pin (Pin.Fails) would: for pins of every test, of
// another kind than the field's, on another field, and for events whose value is
// indexed, unindexed, or not a string.
func TestStartIndexDecidedPins(t *testing.T) {
	str := func(vs ...string) []event.Value {
		out := make([]event.Value, len(vs))
		for i, v := range vs {
			out[i] = event.String(v)
		}
		return out
	}
	pins := []Pin{
		{Schema: benchSchema, Field: 0, Op: PinIn, Values: str("a")},
		{Schema: benchSchema, Field: 0, Op: PinIn, Values: str("a", "b")},
		{Schema: benchSchema, Field: 0, Op: PinNotIn, Values: str("b")},
		{Schema: benchSchema, Field: 0, Op: PinLess, Values: str("c")}, // strings are not ordered
		{Schema: benchSchema, Field: 0, Op: PinIn, Values: []event.Value{event.Bool(true)}},
		{Schema: benchSchema, Field: 2, Op: PinGreaterEq, Values: []event.Value{event.Int(5)}},
	}
	x := &StartIndex{field: 0, pins: pins,
		always: []bool{false, false, false, true},
		by:     map[string]int{"a": 0, "b": 1, "c": 2},
		lists:  [][]bool{{true, true, false, false}, {false, true, true, false}, {true, false, true, false}},
		starts: [][][]int{{{0, 5}}, {{1}, {2, 5}}, {{2}, {3, 4}}, {{0}}}}
	x.indexGuards()
	x.indexMasks(len(x.starts))
	x.indexFew()
	x.indexDecided()
	names := []event.Value{event.String("a"), event.String("b"), event.String("c"), event.String("x"), event.String(""), event.Int(3)}
	for _, name := range names {
		for n := range int64(8) {
			ev := (&event.Event{Schema: benchSchema}).SetValues([]event.Value{name, event.String("k"), event.Int(n)})
			cand := x.Candidates(ev)
			for pi := range x.starts {
				if got, want := x.MayStart(cand, pi), referenceMayStart(x, ev, pi); got != want {
					t.Fatalf("name %v, n %d, program %d: MayStart %v, want %v", name, n, pi, got, want)
				}
			}
		}
	}
}

// referenceMayStart is StartIndex.MayStart by its definition: the first level keeps
// the program (the event's value of its field is not a string, or one the program's
// list has, or the program is always kept) and one of its start guards has no failing
// pin, each pin tested by Pin.Fails.
func referenceMayStart(x *StartIndex, ev *event.Event, pi int) bool {
	if v := ev.Value(x.field); v.Kind == event.KindString && !x.always[pi] {
		if i, ok := x.by[v.AsString()]; !ok || !x.lists[i][pi] {
			return false
		}
	}
	if x.starts[pi] == nil {
		return true
	}
	for _, g := range x.starts[pi] {
		fails := false
		for _, id := range g {
			fails = fails || x.pins[id].Fails(ev)
		}
		if !fails {
			return true
		}
	}
	return false
}
