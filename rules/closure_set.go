package rules

import (
	"math"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/traits"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// in compiles `x in [constants]`. It mirrors the interpreter, which (with OptOptimize)
// turns a list of primitive literals into a hash set: an empty list is false without
// looking at x, and numbers match through lossless conversions only. Other constant
// lists use CEL equality element by element.
func (c *closureCompiler) in(l, r ast.Expr) (condFn, bool) {
	if r.Kind() != ast.ListKind || !isConstant(r) || c.constant == nil {
		return nil, false
	}
	lv, ok := c.constant(r)
	if !ok {
		return nil, false
	}
	if types.IsError(lv) {
		return func(*nfa.EvalContext) tri { return tErr }, true
	}
	list, ok := lv.(traits.Lister)
	if !ok {
		return nil, false
	}
	set := &constSet{hashed: true}
	elems := r.AsList().Elements()
	if len(elems) == 0 {
		return func(*nfa.EvalContext) tri { return tFalse }, true
	}
	for _, el := range elems {
		if !planConst(el) {
			set.hashed = false
		}
	}
	it := list.Iterator()
	for it.HasNext() == types.True {
		el := it.Next()
		if !types.IsPrimitiveType(el) || el.Type() == types.BytesType {
			set.hashed = false
		}
		v, ok := fromCEL(el)
		if !ok {
			return nil, false
		}
		set.add(v)
	}
	if f, ok := c.fieldOf(l); ok {
		return func(x *nfa.EvalContext) tri {
			v := f.get(x.Event)
			if v.Kind == event.KindString {
				return b2t(set.hasString(v.AsString()))
			}
			return set.has(fromValue(v))
		}, true
	}
	needle, ok := c.valOf(l)
	if !ok {
		return nil, false
	}
	return func(x *nfa.EvalContext) tri { return set.has(needle(x)) }, true
}

// constSet answers `x in list` for a list of constants.
type constSet struct {
	// hashed selects the interpreter's hash-set semantics (exact match, or a lossless
	// int/double conversion) over CEL equality.
	hashed bool
	strs   []string
	strMap map[string]struct{}
	others []cval
}

// smallSet is the size up to which a linear scan beats hashing.
const smallSet = 8

func (s *constSet) add(v cval) {
	if v.k == kString {
		s.strs = append(s.strs, v.s)
		if len(s.strs) > smallSet {
			if s.strMap == nil {
				s.strMap = make(map[string]struct{})
				for _, x := range s.strs {
					s.strMap[x] = struct{}{}
				}
			}
			s.strMap[v.s] = struct{}{}
		}
		return
	}
	s.others = append(s.others, v)
}

func (s *constSet) hasString(x string) bool {
	if s.strMap != nil {
		_, ok := s.strMap[x]
		return ok
	}
	for _, y := range s.strs {
		if x == y {
			return true
		}
	}
	return false
}

func (s *constSet) has(v cval) tri {
	switch v.k {
	case kErr:
		return tErr
	case kString:
		return b2t(s.hasString(v.s))
	}
	for _, o := range s.others {
		if s.hashed && hashMatch(v, o) || !s.hashed && equalVals(v, o) {
			return tTrue
		}
	}
	return tFalse
}

// hashMatch is the interpreter's set lookup: the same kind and value, or an int element
// whose double equals a double needle, or a double element that converts losslessly to
// an int needle.
func hashMatch(v, o cval) bool {
	switch {
	case v.k == o.k:
		switch v.k {
		case kDouble:
			return v.f() == o.f()
		case kInt, kBool:
			return v.n == o.n
		}
	case v.k == kDouble && o.k == kInt:
		return float64(o.i()) == v.f()
	case v.k == kInt && o.k == kDouble:
		d := o.f()
		if math.IsInf(d, 0) || math.IsNaN(d) || d <= math.MinInt64 || d >= math.MaxInt64 {
			return false
		}
		return float64(int64(d)) == d && int64(d) == v.i()
	}
	return false
}

// planConst reports whether the interpreter's planner (with OptOptimize) turns e into a
// constant: a literal, a type conversion of a constant, a list or map of constants.
func planConst(e ast.Expr) bool {
	switch e.Kind() {
	case ast.LiteralKind:
		return true
	case ast.CallKind:
		c := e.AsCall()
		return !c.IsMemberFunction() && len(c.Args()) == 1 &&
			overloads.IsTypeConversionFunction(c.FunctionName()) && planConst(c.Args()[0])
	case ast.ListKind:
		for _, x := range e.AsList().Elements() {
			if !planConst(x) {
				return false
			}
		}
		return len(e.AsList().OptionalIndices()) == 0
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			if me.IsOptional() || !planConst(me.Key()) || !planConst(me.Value()) {
				return false
			}
		}
		return true
	}
	return false
}
