package nfa

import (
	"cmp"
	"math"

	"github.com/cepd/cepd/event"
)

// PinOp is how a Pin tests its field.
type PinOp uint8

// The tests a Pin makes of its field's value v against its constants.
const (
	PinIn        PinOp = iota // v is one of Values
	PinNotIn                  // v is none of Values
	PinLess                   // v < Values[0]
	PinLessEq                 // v <= Values[0]
	PinGreater                // v > Values[0]
	PinGreaterEq              // v >= Values[0]
)

// Pin is a term of an event-only guard's top-level && chain that tests one field of the
// event against constants: e.type == 'auth', e.mcc in ['1', '2'], e.card_present ==
// false, e.channel != 'atm', e.amount >= 450.0. When the event's value of Field is of the
// kind of the constants (a string, bool, int or double: Values all have one kind) and
// fails the test, the term is false, so the guard is false whatever its other terms
// (errors included). A value of another kind, or missing, decides nothing; so does an
// event of another schema than the one Field indexes unless that schema has the same
// field (name and type) at that position, as a key space's schema (the rule set's keyed
// by another field) and a compatible schema change (existing fields keep their
// positions) have: a condition reads a field of an event of another schema by its name.
type Pin struct {
	Schema *event.Schema
	Field  int
	Op     PinOp
	Values []event.Value
}

// Pinner is implemented by guards (Guarded.Guard) that can list some of their terms as
// pins: when one pin fails for an event, the guard is false for it.
type Pinner interface {
	Pins() []Pin
}

// Fails reports whether ev's value of the pinned field makes the term false.
func (p *Pin) Fails(ev *event.Event) bool { return p.Applies(ev.Schema) && p.failsValue(ev) }

// Applies reports whether the pin can decide for events of schema s: its own schema, or
// one with the same field (name and type) at the pinned position. StartIndex asks once a
// schema, not once an event.
func (p *Pin) Applies(s *event.Schema) bool {
	return p.Field >= 0 && len(p.Values) > 0 && (s == p.Schema || sameField(s, p.Schema, p.Field))
}

// failsValue is Fails for an event of a schema the pin applies to.
func (p *Pin) failsValue(ev *event.Event) bool {
	if p.Field >= ev.Len() {
		return false
	}
	return p.failsOf(ev.Value(p.Field))
}

// failsOf is failsValue for an event whose value of the pinned field is v.
func (p *Pin) failsOf(v event.Value) bool {
	if v.Kind != p.Values[0].Kind {
		return false
	}
	switch p.Op {
	case PinIn, PinNotIn:
		in := false
		for _, c := range p.Values {
			if same(v, c) {
				in = true
				break
			}
		}
		return in == (p.Op == PinNotIn)
	}
	if v.Kind != event.KindInt && v.Kind != event.KindDouble {
		return false // only numbers are ordered by a pin
	}
	c := order(v, p.Values[0])
	switch p.Op {
	case PinLess:
		return c != -1
	case PinLessEq:
		return c != -1 && c != 0
	case PinGreater:
		return c != 1
	case PinGreaterEq:
		return c != 1 && c != 0
	}
	return false
}

// sameField reports whether schemas a and b both have field i, with the same name and
// type.
func sameField(a, b *event.Schema, i int) bool {
	if a == nil || b == nil || i >= len(a.Fields) || i >= len(b.Fields) {
		return false
	}
	fa, fb := &a.Fields[i], &b.Fields[i]
	return fa.Name == fb.Name && fa.Type == fb.Type
}

// same reports whether v equals c, both of c's kind (a double NaN equals nothing).
func same(v, c event.Value) bool {
	switch c.Kind {
	case event.KindString:
		return v.AsString() == c.AsString()
	case event.KindBool:
		return v.AsBool() == c.AsBool()
	case event.KindInt:
		return v.AsInt() == c.AsInt()
	case event.KindDouble:
		return v.AsDouble() == c.AsDouble()
	}
	return false
}

// order orders two numbers of one kind: -1, 0, 1, or 2 when they are unordered (a NaN),
// which fails every comparison as it does in CEL.
func order(v, c event.Value) int {
	switch c.Kind {
	case event.KindInt:
		return cmp.Compare(v.AsInt(), c.AsInt())
	case event.KindDouble:
		if a, b := v.AsDouble(), c.AsDouble(); !math.IsNaN(a) && !math.IsNaN(b) {
			return cmp.Compare(a, b)
		}
	}
	return 2
}

// StartPins tells which events cannot start a match by the pins of the start state's
// guards: when ok, CanStart is false for an event for which every guard (one per leaf the
// start state consults) has a failing pin. guards[i] are the pins of one guard. ok is
// false when some consulted guard has no pins, or the start state cannot be ruled out
// (as for StartDispatch).
func (p *Program) StartPins() (guards [][]Pin, ok bool) {
	s := p.start
	if p.opts.NoGuards || s == nil || !s.skippable || len(s.guard) == 0 {
		return nil, false
	}
	for _, i := range s.guard {
		pn, isP := p.leaves[i].guard.(Pinner)
		if !isP {
			return nil, false
		}
		pins := pn.Pins()
		if len(pins) == 0 {
			return nil, false
		}
		guards = append(guards, pins)
	}
	return guards, true
}
