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
	var terms []ast.Expr
	var flatten func(x ast.Expr)
	flatten = func(x ast.Expr) {
		if x.Kind() == ast.CallKind && x.AsCall().FunctionName() == fn {
			for _, a := range x.AsCall().Args() {
				flatten(a)
			}
			return
		}
		terms = append(terms, x)
	}
	flatten(e)
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
	fns := append(fast, slow...)
	// absorbing is the value that decides the result (false for &&, true for ||).
	absorbing, neutral := tFalse, tTrue
	if !and {
		absorbing, neutral = tTrue, tFalse
	}
	switch len(fns) {
	case 2:
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
		}, true
	case 3:
		a, b, d := fns[0], fns[1], fns[2]
		return func(x *nfa.EvalContext) tri {
			r := a(x)
			if r == absorbing {
				return r
			}
			s := b(x)
			if s == absorbing {
				return s
			}
			t := d(x)
			if t == absorbing {
				return t
			}
			if r == tErr || s == tErr || t == tErr {
				return tErr
			}
			return neutral
		}, true
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
	}, true
}

func (c *closureCompiler) conditionalBool(args []ast.Expr) (condFn, bool) {
	cond, ok1 := c.boolOf(args[0])
	a, ok2 := c.boolOf(args[1])
	b, ok3 := c.boolOf(args[2])
	if !ok1 || !ok2 || !ok3 {
		return nil, false
	}
	return func(x *nfa.EvalContext) tri {
		switch cond(x) {
		case tTrue:
			return a(x)
		case tFalse:
			return b(x)
		}
		return tErr
	}, true
}
