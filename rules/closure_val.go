package rules

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/cepd/cepd/event"
)

// This file holds the values the closure compiler computes with and CEL's semantics for
// them: heterogeneous equality, ordering with cross-type numeric comparison, checked
// integer arithmetic. Each function mirrors what cel-go's runtime does for the same
// operands (see the differential tests).

// tri is the result of a boolean closure: false, true, or an evaluation error.
type tri uint8

const (
	tFalse tri = iota
	tTrue
	tErr
)

func b2t(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

// ckind is the kind of a closure value. The zero kind is an error.
type ckind uint8

const (
	kErr ckind = iota
	kBool
	kInt
	kDouble
	kString
	kTime // Unix nanoseconds
	kDur  // nanoseconds
)

// cval is a closure value: a small tagged union, passed by value, never boxed.
type cval struct {
	k ckind
	n uint64
	s string
}

var errVal = cval{}

func vBool(b bool) cval {
	if b {
		return cval{k: kBool, n: 1}
	}
	return cval{k: kBool}
}
func vInt(i int64) cval      { return cval{k: kInt, n: uint64(i)} }
func vDouble(f float64) cval { return cval{k: kDouble, n: math.Float64bits(f)} }
func vString(s string) cval  { return cval{k: kString, s: s} }

func (v cval) i() int64   { return int64(v.n) }
func (v cval) f() float64 { return math.Float64frombits(v.n) }
func (v cval) b() bool    { return v.n != 0 }

// fromValue converts an event field value; missing and null are errors (no such key).
func fromValue(v event.Value) cval {
	switch v.Kind {
	case event.KindBool:
		return vBool(v.AsBool())
	case event.KindInt:
		return vInt(v.AsInt())
	case event.KindDouble:
		return vDouble(v.AsDouble())
	case event.KindString:
		return vString(v.AsString())
	case event.KindTimestamp:
		return cval{k: kTime, n: uint64(v.AsTimeNanos())}
	}
	return errVal
}

// fromCEL converts a constant CEL value; ok is false for values closures do not handle.
func fromCEL(v ref.Val) (cval, bool) {
	switch x := v.(type) {
	case types.Bool:
		return vBool(bool(x)), true
	case types.Int:
		return vInt(int64(x)), true
	case types.Double:
		return vDouble(float64(x)), true
	case types.String:
		return vString(string(x)), true
	case types.Timestamp:
		ns := x.UnixNano()
		if time.Unix(0, ns).Equal(x.Time) {
			return cval{k: kTime, n: uint64(ns)}, true
		}
	case types.Duration:
		return cval{k: kDur, n: uint64(x.Duration)}, true
	}
	return cval{}, false
}

func (v cval) tri() tri {
	if v.k == kBool {
		return b2t(v.b())
	}
	return tErr
}

func (t tri) val() cval {
	switch t {
	case tTrue:
		return vBool(true)
	case tFalse:
		return vBool(false)
	}
	return errVal
}

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

// flip returns the operator with its operands swapped (a < b ⇔ b > a).
func (op cmpOp) flip() cmpOp {
	switch op {
	case opLt:
		return opGt
	case opLe:
		return opGe
	case opGt:
		return opLt
	case opGe:
		return opLe
	}
	return op
}

// holds says whether op holds for a three-way comparison result c (-1, 0, 1).
func (op cmpOp) holds(c int) bool {
	switch op {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	}
	return c >= 0
}

func cmp3[T int64 | float64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpDoubleInt is cel-go's compareDoubleInt (NaN must be excluded by the caller).
func cmpDoubleInt(d float64, i int64) int {
	if d < math.MinInt64 {
		return -1
	}
	if d > math.MaxInt64 {
		return 1
	}
	return cmp3(d, float64(i))
}

// compareVals applies op to two closure values with CEL's semantics: errors propagate;
// == and != use heterogeneous equality (different kinds are unequal, numbers compare by
// value); orderings of incompatible kinds are errors, orderings with NaN are false.
func compareVals(op cmpOp, a, b cval) tri {
	if a.k == kErr || b.k == kErr {
		return tErr
	}
	if (a.k == kDouble && a.f() != a.f()) || (b.k == kDouble && b.f() != b.f()) {
		return b2t(op == opNe)
	}
	c, ok := order(a, b)
	if !ok {
		if op == opEq {
			return tFalse
		}
		if op == opNe {
			return tTrue
		}
		return tErr
	}
	return b2t(op.holds(c))
}

// order compares two non-NaN values; ok is false when CEL cannot compare their kinds.
func order(a, b cval) (int, bool) {
	switch a.k {
	case kInt:
		switch b.k {
		case kInt:
			return cmp3(a.i(), b.i()), true
		case kDouble:
			return -cmpDoubleInt(b.f(), a.i()), true
		}
	case kDouble:
		switch b.k {
		case kDouble:
			return cmp3(a.f(), b.f()), true
		case kInt:
			return cmpDoubleInt(a.f(), b.i()), true
		}
	case kString:
		if b.k == kString {
			return strings.Compare(a.s, b.s), true
		}
	case kBool:
		if b.k == kBool {
			return cmp3(int64(a.n), int64(b.n)), true
		}
	case kTime, kDur:
		if b.k == a.k {
			return cmp3(a.i(), b.i()), true
		}
	}
	return 0, false
}

// equalVals is CEL heterogeneous equality (errors excluded by the caller).
func equalVals(a, b cval) bool {
	return compareVals(opEq, a, b) == tTrue
}

// arithOp is an arithmetic operator.
type arithOp uint8

const (
	opAdd arithOp = iota
	opSub
	opMul
	opDiv
	opMod
)

// arith applies op with cel-go's semantics for int (checked: overflow and division by
// zero are errors), double (IEEE) and string (+ only) operands of the same kind.
func arith(op arithOp, a, b cval) cval {
	if a.k == kErr || b.k == kErr || a.k != b.k {
		return errVal
	}
	switch a.k {
	case kInt:
		x, y := a.i(), b.i()
		switch op {
		case opAdd:
			if (y > 0 && x > math.MaxInt64-y) || (y < 0 && x < math.MinInt64-y) {
				return errVal
			}
			return vInt(x + y)
		case opSub:
			if (y < 0 && x > math.MaxInt64+y) || (y > 0 && x < math.MinInt64+y) {
				return errVal
			}
			return vInt(x - y)
		case opMul:
			if (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) ||
				(x > 0 && y > 0 && x > math.MaxInt64/y) ||
				(x > 0 && y < 0 && y < math.MinInt64/x) ||
				(x < 0 && y > 0 && x < math.MinInt64/y) ||
				(x < 0 && y < 0 && y < math.MaxInt64/x) {
				return errVal
			}
			return vInt(x * y)
		case opDiv:
			if y == 0 || (x == math.MinInt64 && y == -1) {
				return errVal
			}
			return vInt(x / y)
		case opMod:
			if y == 0 || (x == math.MinInt64 && y == -1) {
				return errVal
			}
			return vInt(x % y)
		}
	case kDouble:
		x, y := a.f(), b.f()
		switch op {
		case opAdd:
			return vDouble(x + y)
		case opSub:
			return vDouble(x - y)
		case opMul:
			return vDouble(x * y)
		case opDiv:
			return vDouble(x / y)
		}
	case kString:
		if op == opAdd {
			return vString(a.s + b.s)
		}
	}
	return errVal
}

func negate(a cval) cval {
	switch a.k {
	case kInt:
		if a.i() == math.MinInt64 {
			return errVal
		}
		return vInt(-a.i())
	case kDouble:
		return vDouble(-a.f())
	}
	return errVal
}

// toInt is int(x) for an int or a double: truncation, an error when out of range or NaN.
func toInt(a cval) cval {
	switch a.k {
	case kInt:
		return a
	case kDouble:
		f := a.f()
		if math.IsInf(f, 0) || math.IsNaN(f) || f <= math.MinInt64 || f >= math.MaxInt64 {
			return errVal
		}
		return vInt(int64(f))
	}
	return errVal
}

// toDouble is double(x) for an int or a double.
func toDouble(a cval) cval {
	switch a.k {
	case kDouble:
		return a
	case kInt:
		return vDouble(float64(a.i()))
	}
	return errVal
}

func runeCount(s string) int64 { return int64(utf8.RuneCountInString(s)) }

// subTimes is timestamp − timestamp, a duration, with cel-go's checked arithmetic: whole
// seconds first, then nanoseconds (subtractTimeChecked), any overflow an error.
func subTimes(a, b cval) cval {
	if a.k != kTime || b.k != kTime {
		return errVal
	}
	split := func(ns int64) (int64, int64) { // floor division, as time.Truncate(time.Second)
		s, r := ns/1e9, ns%1e9
		if r < 0 {
			s, r = s-1, r+1e9
		}
		return s, r
	}
	s1, n1 := split(a.i())
	s2, n2 := split(b.i())
	sec := arith(opSub, vInt(s1), vInt(s2))
	if sec.k == kErr {
		return errVal
	}
	tsec := arith(opMul, sec, vInt(1e9))
	if tsec.k == kErr {
		return errVal
	}
	d := arith(opAdd, tsec, vInt(n1-n2))
	if d.k == kErr {
		return errVal
	}
	return cval{k: kDur, n: d.n}
}
