package rules

import (
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// pinsOf finds the terms of x's top-level && chain that test one field of the event
// against constants of the field's declared type (nfa.Pin): e.f == c, c == e.f, e.f != c
// and e.f in [c…] for a string or bool field; e.f < c (<=, >, >=, either side) for an int
// or double field with a literal of its type; a bool field alone (e.vip). When the
// event's f holds a value of that type which fails the test, that term is false, so x is
// false (an && with a false term is false whatever the others, errors included).
func pinsOf(x *compiledExpr) []nfa.Pin {
	s := x.env.schema
	if s == nil {
		return nil
	}
	native := x.ast.NativeRep()
	cc := &closureCompiler{env: x.env, a: native}
	var pins []nfa.Pin
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
			for _, a := range e.AsCall().Args() {
				walk(a)
			}
			return
		}
		if p, ok := cc.pinOf(e); ok {
			pins = append(pins, p)
		}
	}
	walk(native.Expr())
	return pins
}

// pinOps are the comparison operators a pin makes, by CEL function, and the operator
// with the operands swapped (c < e.f is e.f > c).
var pinOps = map[string][2]nfa.PinOp{
	operators.Equals:        {nfa.PinIn, nfa.PinIn},
	operators.NotEquals:     {nfa.PinNotIn, nfa.PinNotIn},
	operators.Less:          {nfa.PinLess, nfa.PinGreater},
	operators.LessEquals:    {nfa.PinLessEq, nfa.PinGreaterEq},
	operators.Greater:       {nfa.PinGreater, nfa.PinLess},
	operators.GreaterEquals: {nfa.PinGreaterEq, nfa.PinLessEq},
}

// pinOf returns the pin term t makes, if it makes one (pinsOf).
func (c *closureCompiler) pinOf(t ast.Expr) (nfa.Pin, bool) {
	if typ, idx, ok := c.schemaField(t); ok && typ == event.TypeBool { // e.vip
		return nfa.Pin{Schema: c.env.schema, Field: idx, Op: nfa.PinIn, Values: []event.Value{event.Bool(true)}}, true
	}
	if t.Kind() != ast.CallKind || len(t.AsCall().Args()) != 2 {
		return nfa.Pin{}, false
	}
	call := t.AsCall()
	args := call.Args()
	if call.FunctionName() == operators.In {
		typ, idx, ok := c.schemaField(args[0])
		if !ok || typ != event.TypeString || args[1].Kind() != ast.ListKind {
			return nfa.Pin{}, false
		}
		vals, ok := constants(typ, args[1].AsList().Elements())
		return nfa.Pin{Schema: c.env.schema, Field: idx, Op: nfa.PinIn, Values: vals}, ok
	}
	ops, isOp := pinOps[call.FunctionName()]
	if !isOp {
		return nfa.Pin{}, false
	}
	fe, ce, op := args[0], args[1], ops[0]
	if _, _, isField := c.schemaField(fe); !isField {
		fe, ce, op = args[1], args[0], ops[1]
	}
	typ, idx, ok := c.schemaField(fe)
	if !ok {
		return nfa.Pin{}, false
	}
	if ordered := op != nfa.PinIn && op != nfa.PinNotIn; ordered != (typ == event.TypeInt || typ == event.TypeDouble) ||
		!ordered && typ != event.TypeString && typ != event.TypeBool {
		return nfa.Pin{}, false
	}
	vals, ok := constants(typ, []ast.Expr{ce})
	return nfa.Pin{Schema: c.env.schema, Field: idx, Op: op, Values: vals}, ok
}

// schemaField returns the declared type and index of the schema field e reads (e.f or
// e['f']), when it reads one of the expression's own schema.
func (c *closureCompiler) schemaField(e ast.Expr) (event.Type, int, bool) {
	f, ok := c.fieldOf(e)
	s := c.env.schema
	if !ok || s == nil || f.s != s || f.idx < 0 {
		return 0, 0, false
	}
	return s.Fields[f.idx].Type, f.idx, true
}

// constants returns the literals es as values of type typ; false when one is not a
// literal of that type.
func constants(typ event.Type, es []ast.Expr) ([]event.Value, bool) {
	vals := make([]event.Value, 0, len(es))
	for _, e := range es {
		v, ok := constant(typ, literal(e))
		if !ok {
			return nil, false
		}
		vals = append(vals, v)
	}
	return vals, len(vals) > 0
}

func constant(typ event.Type, lit ref.Val) (event.Value, bool) {
	switch l := lit.(type) {
	case types.String:
		return event.String(string(l)), typ == event.TypeString
	case types.Bool:
		return event.Bool(bool(l)), typ == event.TypeBool
	case types.Int:
		return event.Int(int64(l)), typ == event.TypeInt
	case types.Double:
		return event.Double(float64(l)), typ == event.TypeDouble
	}
	return event.Value{}, false
}

// dispatchOf returns the first of pins that pins a string field to constants: e.f ==
// 'c' (or 'c' == e.f) or e.f in ['a', 'b'] (the first level of nfa.StartIndex).
func dispatchOf(pins []nfa.Pin) dispatch {
	for _, p := range pins {
		if p.Op != nfa.PinIn || p.Values[0].Kind != event.KindString {
			continue
		}
		d := dispatch{field: p.Field, ok: true}
		for _, v := range p.Values {
			d.values = append(d.values, v.AsString())
		}
		return d
	}
	return dispatch{}
}
