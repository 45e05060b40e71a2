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
			fast = append(fast, f)
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
