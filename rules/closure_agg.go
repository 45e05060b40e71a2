package rules

import (
	"math"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// Aggregates over the events of a step, the iterative conditions analysts write most:
// sum / avg / min / max of match.s.map(x, x.f), size(match.s), count(match.s), and
// first(match.s).f / last(match.s).f. They read the partial match directly, without
// building CEL lists, and compute what the interpreter computes from the same events in
// the same order. They are linear in the number of events and carry no runtime cost
// limit (the compile-time estimate bounds them).

// matchStep recognises match.s and match['s'] and returns s.
func (c *closureCompiler) matchStep(e ast.Expr) (string, bool) {
	operand, name, ok := access(e, false)
	if !ok {
		return "", false
	}
	if !c.isVar(operand, "match") || c.steps != nil && !c.steps[name] {
		return "", false
	}
	return name, true
}

// mapField recognises match.s.map(x, x.f) (the expansion of the map macro) and returns
// s and a reader of f.
func (c *closureCompiler) mapField(e ast.Expr) (string, *fieldRef, bool) {
	if e.Kind() != ast.ComprehensionKind {
		return "", nil, false
	}
	comp := e.AsComprehension()
	if comp.HasIterVar2() {
		return "", nil, false
	}
	step, ok := c.matchStep(comp.IterRange())
	if !ok {
		return "", nil, false
	}
	accu, v := comp.AccuVar(), comp.IterVar()
	isIdent := func(x ast.Expr, name string) bool { return x.Kind() == ast.IdentKind && x.AsIdent() == name }
	init, cond, loop := comp.AccuInit(), comp.LoopCondition(), comp.LoopStep()
	if init.Kind() != ast.ListKind || len(init.AsList().Elements()) != 0 ||
		literal(cond) != types.True || !isIdent(comp.Result(), accu) ||
		loop.Kind() != ast.CallKind || loop.AsCall().FunctionName() != operators.Add || len(loop.AsCall().Args()) != 2 {
		return "", nil, false
	}
	args := loop.AsCall().Args()
	if !isIdent(args[0], accu) || args[1].Kind() != ast.ListKind || len(args[1].AsList().Elements()) != 1 {
		return "", nil, false
	}
	fn := args[1].AsList().Elements()[0]
	if fn.Kind() != ast.SelectKind || fn.AsSelect().IsTestOnly() || !isIdent(fn.AsSelect().Operand(), v) {
		return "", nil, false
	}
	f, ok := c.newFieldRef(fn.AsSelect().FieldName())
	if !ok {
		return "", nil, false
	}
	return step, f, true
}

// aggregate compiles the aggregate call shapes.
func (c *closureCompiler) aggregate(e ast.Expr) (evalFn, bool) {
	if e.Kind() != ast.CallKind {
		return nil, false
	}
	call := e.AsCall()
	fn, args := call.FunctionName(), call.Args()
	var arg ast.Expr
	switch {
	case !call.IsMemberFunction() && len(args) == 1:
		arg = args[0]
	case call.IsMemberFunction() && len(args) == 0 && fn == overloads.Size:
		arg = call.Target()
	default:
		return nil, false
	}
	switch fn {
	case overloads.Size, "count":
		step, ok := c.matchStep(arg)
		if !ok {
			return nil, false
		}
		matched := c.matched
		return func(x *nfa.EvalContext) cval { return vInt(int64(len(matched(x, step)))) }, true
	case "sum", "avg":
		step, f, ok := c.mapField(arg)
		if !ok {
			return nil, false
		}
		avg, matched := fn == "avg", c.matched
		return func(x *nfa.EvalContext) cval {
			evs := matched(x, step)
			var sum float64
			for _, ev := range evs {
				switch v := f.get(ev); v.Kind {
				case event.KindDouble:
					sum += v.AsDouble()
				case event.KindInt:
					sum += float64(v.AsInt())
				default:
					return errVal // missing, or not a number
				}
			}
			if avg {
				if len(evs) == 0 {
					return errVal
				}
				return vDouble(sum / float64(len(evs)))
			}
			return vDouble(sum)
		}, true
	case "min", "max":
		step, f, ok := c.mapField(arg)
		if !ok {
			return nil, false
		}
		sign := 1
		if fn == "min" {
			sign = -1
		}
		matched := c.matched
		return func(x *nfa.EvalContext) cval { return extremumOf(matched(x, step), f, sign) }, true
	}
	return nil, false
}

// extremumOf mirrors the min/max helpers: the first strictly smaller (larger) value
// wins; NaN, values CEL cannot order against each other and an empty list are errors.
func extremumOf(evs []*event.Event, f *fieldRef, sign int) cval {
	best := errVal
	for i, ev := range evs {
		v := fromValue(f.get(ev))
		if v.k == kErr || v.k == kDouble && math.IsNaN(v.f()) {
			return errVal
		}
		if i == 0 {
			best = v
			continue
		}
		c, ok := order(best, v)
		if !ok {
			return errVal
		}
		if c == -sign {
			best = v
		}
	}
	return best
}

// endField compiles first(match.s).f and last(match.s).f.
func (c *closureCompiler) endField(e ast.Expr) (evalFn, bool) {
	sel := e.AsSelect()
	operand := sel.Operand()
	if operand.Kind() != ast.CallKind {
		return nil, false
	}
	call := operand.AsCall()
	fn := call.FunctionName()
	if call.IsMemberFunction() || len(call.Args()) != 1 || fn != "first" && fn != "last" {
		return nil, false
	}
	step, ok := c.matchStep(call.Args()[0])
	if !ok {
		return nil, false
	}
	f, ok := c.newFieldRef(sel.FieldName())
	if !ok {
		return nil, false
	}
	first, matched, start := fn == "first", c.matched, c.start
	return func(x *nfa.EvalContext) cval {
		if first && start != nil {
			if ev, ok := start(x, step); ok {
				return fromValue(f.get(ev))
			}
		}
		evs := matched(x, step)
		if len(evs) == 0 {
			return errVal
		}
		ev := evs[len(evs)-1]
		if first {
			ev = evs[0]
		}
		return fromValue(f.get(ev))
	}, true
}

// inMatch compiles `x in match.s.map(y, y.f)` (a value not yet seen in a step): the list
// is the step's values of f, in order, an error if one is missing; membership is CEL
// equality element by element (the interpreter does not hash a list built at run time).
func (c *closureCompiler) inMatch(l, r ast.Expr) (condFn, bool) {
	step, f, ok := c.mapField(r)
	if !ok {
		return nil, false
	}
	needle, ok := c.valOf(l)
	if !ok {
		return nil, false
	}
	matched := c.matched
	return func(x *nfa.EvalContext) tri {
		n := needle(x)
		evs := matched(x, step)
		found := false
		for _, ev := range evs {
			v := fromValue(f.get(ev))
			if v.k == kErr {
				return tErr // the list itself fails to build
			}
			if !found && n.k != kErr && equalVals(n, v) {
				found = true
			}
		}
		if n.k == kErr {
			return tErr
		}
		return b2t(found)
	}, true
}
