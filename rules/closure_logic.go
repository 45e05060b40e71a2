package rules

import (
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"

	"github.com/cepd/cepd/nfa"
)

// logical compiles a chain of && (or ||): terms are flattened; closures run first and
// interpreter leaves last (CEL's && and || are commutative, errors included).
func (c *closureCompiler) logical(e ast.Expr, and bool) (condFn, bool) {
	fn := operators.LogicalOr
	if and {
		fn = operators.LogicalAnd
	}
	fns, ok := c.logicalTerms(flattenCalls(e, fn, nil))
	if !ok {
		return nil, false
	}
	return joinLogical(fns, and), true
}

// flattenCalls appends to terms the operands of the nested calls of fn that e is made of
// (e itself when it is not such a call).
func flattenCalls(e ast.Expr, fn string, terms []ast.Expr) []ast.Expr {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == fn {
		for _, a := range e.AsCall().Args() {
			terms = flattenCalls(a, fn, terms)
		}
		return terms
	}
	return append(terms, e)
}

// logicalTerms compiles the terms of a chain of && or ||, the closures first and the
// interpreter leaves after them.
func (c *closureCompiler) logicalTerms(terms []ast.Expr) ([]condFn, bool) {
	var fast, slow []condFn
	for _, t := range terms {
		if f, ok := c.boolOf(t); ok {
			fast = append(fast, c.memoTerm(t, f))
			continue
		}
		if c.leaf == nil {
			return nil, false
		}
		f, ok := c.leaf(t)
		if !ok {
			return nil, false
		}
		c.leaves++
		slow = append(slow, f)
	}
	c.fastTerms += len(fast)
	return append(fast, slow...), true
}

// joinLogical joins compiled terms by && (and) or ||, evaluated in order and stopping at
// the first that decides; a pair is unrolled.
func joinLogical(fns []condFn, and bool) condFn {
	// absorbing is the value that decides the result (false for &&, true for ||).
	absorbing, neutral := tFalse, tTrue
	if !and {
		absorbing, neutral = tTrue, tFalse
	}
	if len(fns) == 2 {
		a, b := fns[0], fns[1]
		return func(x *nfa.EvalContext) tri {
			r := a(x)
			if r == absorbing {
				return r
			}
			s := b(x)
			if s == absorbing {
				return s
			}
			if r == tErr || s == tErr {
				return tErr
			}
			return neutral
		}
	}
	return func(x *nfa.EvalContext) tri {
		res := neutral
		for _, f := range fns {
			switch f(x) {
			case absorbing:
				return absorbing
			case tErr:
				res = tErr
			}
		}
		return res
	}
}

// memoTerm returns f, the closure of the term t of a && / || chain, evaluated through
// the memo's term slot for t (nfa.Memo.Term) when t reads the event and nothing else and
// the compiler has term slots (c.termSlot): such a term (e.type == 'auth', has(e.amount))
// is then evaluated once an event for every guard, rule and partial match that has it,
// its error included. Its value depends on the event alone, and the memo is the
// current event's (as for the conditions memoised whole).
func (c *closureCompiler) memoTerm(t ast.Expr, f condFn) condFn {
	if c.termSlot == nil || !c.eventOnly(t) {
		return f
	}
	slot := c.termSlot(t)
	if slot < 0 {
		return f
	}
	return func(x *nfa.EvalContext) tri {
		m := x.Memo
		if m == nil {
			return f(x)
		}
		if v, ok := m.Term(slot); ok {
			return tri(v)
		}
		v := f(x)
		m.PutTerm(slot, uint8(v))
		return v
	}
}

// eventOnly reports whether e reads the event variable and no other (not match, agg, a
// comprehension's variable), calls no reference-data function (the data changes
// without a recompilation) and is not a constant.
func (c *closureCompiler) eventOnly(e ast.Expr) bool {
	ok, event := true, false
	visit(e, func(x ast.Expr) {
		switch x.Kind() {
		case ast.IdentKind:
			if c.isEventVar(x) {
				event = true
			} else {
				ok = false
			}
		case ast.ComprehensionKind, ast.StructKind:
			ok = false
		case ast.CallKind:
			if _, data := dataFuncs[x.AsCall().FunctionName()]; data {
				ok = false
			}
		}
	})
	return ok && event
}
