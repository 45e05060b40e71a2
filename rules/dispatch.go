package rules

import (
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"

	"github.com/cepd/cepd/event"
)

// dispatchOf finds, among the terms of x's top-level && chain, one that pins a string
// field of the event to constants: e.f == 'c' (or 'c' == e.f) or e.f in ['a', 'b']. When
// the event's f is a present string outside those constants, that term is false, so x is
// false (an && with a false term is false whatever the others, errors included).
func dispatchOf(x *compiledExpr) (field int, values []string, ok bool) {
	s := x.env.schema
	if s == nil {
		return 0, nil, false
	}
	native := x.ast.NativeRep()
	cc := &closureCompiler{env: x.env, a: native}
	var terms []ast.Expr
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
			for _, a := range e.AsCall().Args() {
				walk(a)
			}
			return
		}
		terms = append(terms, e)
	}
	walk(native.Expr())
	for _, t := range terms {
		if t.Kind() != ast.CallKind {
			continue
		}
		call := t.AsCall()
		args := call.Args()
		if len(args) != 2 {
			continue
		}
		var fe ast.Expr
		var consts []ast.Expr
		switch call.FunctionName() {
		case operators.Equals:
			fe, consts = args[0], []ast.Expr{args[1]}
			if _, isField := cc.fieldOf(fe); !isField {
				fe, consts = args[1], []ast.Expr{args[0]}
			}
		case operators.In:
			if args[1].Kind() != ast.ListKind {
				continue
			}
			fe, consts = args[0], args[1].AsList().Elements()
		default:
			continue
		}
		f, isField := cc.fieldOf(fe)
		if !isField || f.s != s || f.idx < 0 || s.Fields[f.idx].Type != event.TypeString {
			continue
		}
		vals := make([]string, 0, len(consts))
		for _, c := range consts {
			lit, isStr := literal(c).(types.String)
			if !isStr {
				vals = nil
				break
			}
			vals = append(vals, string(lit))
		}
		if vals == nil {
			continue
		}
		return f.idx, vals, true
	}
	return 0, nil, false
}
