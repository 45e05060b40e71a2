package rules

import (
	"strings"
	"unsafe"

	"cel.dev/cel-go/common/ast"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// compare compiles a comparison, specialised when one side is a field and the other a
// constant.
func (c *closureCompiler) compare(op cmpOp, l, r ast.Expr) (condFn, bool) {
	if f, ok := c.fieldOf(l); ok {
		if k, ok := c.constOf(r); ok {
			return fieldConstCmp(f, op, k), true
		}
	}
	if f, ok := c.fieldOf(r); ok {
		if k, ok := c.constOf(l); ok {
			return fieldConstCmp(f, op.flip(), k), true
		}
	}
	lv, ok1 := c.valOf(l)
	rv, ok2 := c.valOf(r)
	if !ok1 || !ok2 {
		return nil, false
	}
	return func(x *nfa.EvalContext) tri { return compareVals(op, lv(x), rv(x)) }, true
}

// fieldConstCmp compares a field with a constant; the common kinds are handled inline.
func fieldConstCmp(f *fieldRef, op cmpOp, k cval) condFn {
	switch k.k {
	case kErr:
		return func(*nfa.EvalContext) tri { return tErr }
	case kDouble:
		if fn := numConstCmp[float64](f, op, k, event.KindDouble); fn != nil {
			return fn
		}
	case kInt:
		if fn := numConstCmp[int64](f, op, k, event.KindInt); fn != nil {
			return fn
		}
	case kString:
		cs := k.s
		switch op {
		case opEq, opNe:
			eq := op == opEq
			return func(x *nfa.EvalContext) tri {
				v := f.get(x.Event)
				if v.Kind == event.KindString {
					return b2t((v.AsString() == cs) == eq)
				}
				return slowCmp(op, v, k)
			}
		}
		return func(x *nfa.EvalContext) tri {
			v := f.get(x.Event)
			if v.Kind == event.KindString {
				return b2t(op.holds(strings.Compare(v.AsString(), cs)))
			}
			return slowCmp(op, v, k)
		}
	}
	return func(x *nfa.EvalContext) tri { return slowCmp(op, f.get(x.Event), k) }
}

// strTest compiles s.startsWith(t), s.endsWith(t), s.contains(t).
func (c *closureCompiler) strTest(test func(s, arg string) bool, target, arg ast.Expr) (condFn, bool) {
	if f, ok := c.fieldOf(target); ok {
		if k, ok := c.constOf(arg); ok && k.k == kString {
			cs := k.s
			return func(x *nfa.EvalContext) tri {
				v := f.get(x.Event)
				if v.Kind != event.KindString {
					return tErr
				}
				return b2t(test(v.AsString(), cs))
			}, true
		}
	}
	t, ok1 := c.valOf(target)
	a, ok2 := c.valOf(arg)
	if !ok1 || !ok2 {
		return nil, false
	}
	return func(x *nfa.EvalContext) tri {
		s, p := t(x), a(x)
		if s.k != kString || p.k != kString {
			return tErr
		}
		return b2t(test(s.s, p.s))
	}, true
}

// Comparisons of a numeric field with a numeric constant, one closure per operator so the
// common case is a load, a kind test and one machine comparison. For two doubles (and two
// ints) Go's operators agree with CEL, NaN included: every comparison with NaN is false
// except !=. Other kinds go through slowCmp.

// slowCmp compares a field's value of any kind with a constant, as CEL does: the path
// every specialised comparison falls back to.
func slowCmp(op cmpOp, v event.Value, k cval) tri { return compareVals(op, fromValue(v), k) }

// numConstCmp compares a field with a constant of T's kind (kind: event.KindInt for
// int64, event.KindDouble for float64). Values of any other kind go through slowCmp.
func numConstCmp[T int64 | float64](f *fieldRef, op cmpOp, k cval, kind event.Kind) condFn {
	c := num[T](int64(k.n))
	switch op {
	case opEq:
		return func(x *nfa.EvalContext) tri {
			if v := f.get(x.Event); v.Kind == kind {
				return b2t(num[T](v.AsInt()) == c)
			} else {
				return slowCmp(op, v, k)
			}
		}
	case opNe:
		return func(x *nfa.EvalContext) tri {
			if v := f.get(x.Event); v.Kind == kind {
				return b2t(num[T](v.AsInt()) != c)
			} else {
				return slowCmp(op, v, k)
			}
		}
	case opLt:
		return func(x *nfa.EvalContext) tri {
			if v := f.get(x.Event); v.Kind == kind {
				return b2t(num[T](v.AsInt()) < c)
			} else {
				return slowCmp(op, v, k)
			}
		}
	case opLe:
		return func(x *nfa.EvalContext) tri {
			if v := f.get(x.Event); v.Kind == kind {
				return b2t(num[T](v.AsInt()) <= c)
			} else {
				return slowCmp(op, v, k)
			}
		}
	case opGt:
		return func(x *nfa.EvalContext) tri {
			if v := f.get(x.Event); v.Kind == kind {
				return b2t(num[T](v.AsInt()) > c)
			} else {
				return slowCmp(op, v, k)
			}
		}
	case opGe:
		return func(x *nfa.EvalContext) tri {
			if v := f.get(x.Event); v.Kind == kind {
				return b2t(num[T](v.AsInt()) >= c)
			} else {
				return slowCmp(op, v, k)
			}
		}
	}
	return nil
}

// num reads n, the 64 bits that hold a number of T's kind (a cval's n, an event.Value's
// AsInt), as T: the int itself, or the double whose IEEE 754 bits they are (as
// math.Float64frombits). Its reads compile to a register move, no call.
func num[T int64 | float64](n int64) T { return *(*T)(unsafe.Pointer(&n)) }
