package nfa

import (
	"math"
	"testing"

	"github.com/cepd/cepd/event"
)

// TestPinFails: a pin fails only for a value of its constants' kind, present, in its own
// schema or one with the same field in its place, that fails the test as CEL would (a NaN
// fails every order); anything else decides nothing.
func TestPinFails(t *testing.T) {
	s, err := event.NewSchema("pins", []event.Field{
		{Name: "k", Type: event.TypeString}, {Name: "ts", Type: event.TypeInt},
		{Name: "s", Type: event.TypeString}, {Name: "b", Type: event.TypeBool}, {Name: "d", Type: event.TypeDouble},
	}, "k", "ts", "")
	if err != nil {
		t.Fatal(err)
	}
	other, err := event.NewSchema("pins", s.Fields, "k", "ts", "") // same fields, another schema
	if err != nil {
		t.Fatal(err)
	}
	f := s.Fields
	moved, err := event.NewSchema("pins", []event.Field{f[0], f[1], f[3], f[2], f[4]}, "k", "ts", "") // s and b swapped
	if err != nil {
		t.Fatal(err)
	}
	renamed, err := event.NewSchema("pins", []event.Field{f[0], f[1], {Name: "s2", Type: event.TypeString}, f[3], f[4]}, "k", "ts", "")
	if err != nil {
		t.Fatal(err)
	}
	older, err := event.NewSchema("pins", f[:3], "k", "ts", "") // before fields were added
	if err != nil {
		t.Fatal(err)
	}
	ev := func(sch *event.Schema, v event.Value, field int) *event.Event {
		vals := make([]event.Value, len(sch.Fields))
		vals[0], vals[1] = event.String("key"), event.Int(1)
		vals[field] = v
		return (&event.Event{Schema: sch}).SetValues(vals)
	}
	str, two := []event.Value{event.String("auth"), event.String("capture")}, []event.Value{event.Double(2)}
	cases := []struct {
		name  string
		pin   Pin
		ev    *event.Event
		fails bool
	}{
		{"in, outside", Pin{s, 2, PinIn, str}, ev(s, event.String("refund"), 2), true},
		{"in, inside", Pin{s, 2, PinIn, str}, ev(s, event.String("capture"), 2), false},
		{"in, missing", Pin{s, 2, PinIn, str}, ev(s, event.Value{}, 2), false},
		{"in, null", Pin{s, 2, PinIn, str}, ev(s, event.Null(), 2), false},
		{"in, another kind", Pin{s, 2, PinIn, str}, ev(s, event.Int(3), 2), false},
		{"in, another schema with the field in place (a key space's)", Pin{s, 2, PinIn, str}, ev(other, event.String("refund"), 2), true},
		{"in, an older schema with the field in place", Pin{s, 2, PinIn, str}, ev(older, event.String("refund"), 2), true},
		{"in, another schema, another field there", Pin{s, 2, PinIn, str}, ev(moved, event.String("refund"), 2), false},
		{"in, another schema, the field renamed", Pin{s, 2, PinIn, str}, ev(renamed, event.String("refund"), 2), false},
		{"bool, an older schema without the field", Pin{s, 3, PinIn, []event.Value{event.Bool(false)}}, ev(older, event.String("x"), 2), false},
		{"in, no schema", Pin{s, 2, PinIn, str}, (&event.Event{}).SetValues([]event.Value{event.String("key"), event.Int(1), event.String("refund")}), false},
		{"not in, inside", Pin{s, 2, PinNotIn, str[:1]}, ev(s, event.String("auth"), 2), true},
		{"not in, outside", Pin{s, 2, PinNotIn, str[:1]}, ev(s, event.String("au"), 2), false},
		{"bool", Pin{s, 3, PinIn, []event.Value{event.Bool(false)}}, ev(s, event.Bool(true), 3), true},
		{"bool holds", Pin{s, 3, PinIn, []event.Value{event.Bool(false)}}, ev(s, event.Bool(false), 3), false},
		{"less, equal", Pin{s, 4, PinLess, two}, ev(s, event.Double(2), 4), true},
		{"less-eq, equal", Pin{s, 4, PinLessEq, two}, ev(s, event.Double(2), 4), false},
		{"greater, equal", Pin{s, 4, PinGreater, two}, ev(s, event.Double(2), 4), true},
		{"greater-eq, equal", Pin{s, 4, PinGreaterEq, two}, ev(s, event.Double(2), 4), false},
		{"greater-eq, below", Pin{s, 4, PinGreaterEq, two}, ev(s, event.Double(1.5), 4), true},
		{"less, NaN", Pin{s, 4, PinLess, two}, ev(s, event.Double(math.NaN()), 4), true},
		{"greater-eq, NaN", Pin{s, 4, PinGreaterEq, two}, ev(s, event.Double(math.NaN()), 4), true},
		{"less, an int", Pin{s, 4, PinLess, two}, ev(s, event.Int(5), 4), false},
		{"int order", Pin{s, 1, PinGreater, []event.Value{event.Int(3)}}, ev(s, event.Int(3), 1), true},
		{"string order decides nothing", Pin{s, 2, PinLess, str[:1]}, ev(s, event.String("zzz"), 2), false},
	}
	for _, c := range cases {
		if got := c.pin.Fails(c.ev); got != c.fails {
			t.Errorf("%s: Fails = %v, want %v", c.name, got, c.fails)
		}
	}
}
