package rules

import (
	"time"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"

	"github.com/cepd/cepd/nfa"
)

// helperCall compiles calls of cepd's numeric helpers whose arguments are statically
// typed: geo_km(double, double, double, double) and hours_between / seconds_between of
// two timestamps. They compute what the bindings in funcs.go compute.
func (c *closureCompiler) helperCall(fn string, call ast.CallExpr, args []ast.Expr) (evalFn, bool) {
	if call.IsMemberFunction() {
		return nil, false
	}
	switch fn {
	case "geo_km":
		if len(args) != 4 {
			return nil, false
		}
		var fs [4]evalFn
		for i, a := range args {
			if c.staticKind(a) != types.DoubleKind {
				return nil, false
			}
			f, ok := c.valOf(a)
			if !ok {
				return nil, false
			}
			fs[i] = f
		}
		return func(x *nfa.EvalContext) cval {
			var v [4]float64
			for i, f := range fs {
				a := f(x)
				if a.k != kDouble {
					return errVal
				}
				v[i] = a.f()
			}
			return vDouble(GeoKm(v[0], v[1], v[2], v[3]))
		}, true
	case "hours_between", "seconds_between":
		if len(args) != 2 || c.staticKind(args[0]) != types.TimestampKind || c.staticKind(args[1]) != types.TimestampKind {
			return nil, false
		}
		a, ok1 := c.valOf(args[0])
		b, ok2 := c.valOf(args[1])
		if !ok1 || !ok2 {
			return nil, false
		}
		unit := float64(time.Hour)
		if fn == "seconds_between" {
			unit = float64(time.Second)
		}
		return func(x *nfa.EvalContext) cval {
			t1, t2 := a(x), b(x)
			if t1.k != kTime || t2.k != kTime {
				return errVal
			}
			return vDouble(betweenNanos(t1.i(), t2.i(), unit))
		}, true
	}
	return nil, false
}
