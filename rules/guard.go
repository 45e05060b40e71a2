package rules

import (
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/parser"

	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

// Event-only guards (nfa.Guarded). A condition that reads match is evaluated per partial
// match; the terms of its top-level && chain that read only the event are a necessary
// condition the matcher evaluates once per event instead, skipping every run they rule
// out. CEL's && is false as soon as one term is false, whatever the others (errors
// included), so a false guard means a false condition and no counted error.

// guard is an event-only expression used as a necessary condition. Unlike a condition, an
// evaluation error makes it true (it rules nothing out) and is not counted: the condition
// it guards is then evaluated and counts its own errors.
type guard struct {
	x    *compiledExpr
	slot int // memo slot (-1: none)
	pins []nfa.Pin
	disp dispatch
}

// dispatch is a string field of the event an expression pins to constants (dispatchOf).
type dispatch struct {
	field  int
	values []string
	ok     bool
}

// Dispatch implements nfa.Dispatcher.
func (g *guard) Dispatch() (int, []string, bool) { return g.disp.field, g.disp.values, g.disp.ok }

// Pins implements nfa.Pinner.
func (g *guard) Pins() []nfa.Pin { return g.pins }

// Pins implements nfa.Pinner for a condition that is its own guard.
func (c *condition) Pins() []nfa.Pin { return c.pins }

// Dispatch implements nfa.Dispatcher for a condition that is its own guard.
func (c *condition) Dispatch() (int, []string, bool) {
	return c.disp.field, c.disp.values, c.disp.ok
}

// Eval implements nfa.Condition.
func (g *guard) Eval(ctx *nfa.EvalContext) bool {
	if v, ok := memoGet(ctx, g.slot); ok {
		return v
	}
	return memoPut(ctx, g.slot, g.eval(ctx))
}

func (g *guard) eval(ctx *nfa.EvalContext) (res bool) {
	defer func() {
		if r := recover(); r != nil {
			res = true
		}
	}()
	if fn := g.x.fn; fn != nil {
		return fn(ctx) != tFalse
	}
	v, err := g.x.interpret(ctx)
	if err != nil {
		return true
	}
	b, ok := v.(types.Bool)
	return !ok || bool(b)
}

// Guard implements nfa.Guarded.
func (c *condition) Guard() nfa.Condition {
	if c.guard == nil {
		return nil // a typed nil would not compare equal to nil
	}
	return c.guard
}

// attachGuard gives cond its event-only guard, if it has one: itself when it does not read
// match and is memoised (it is then evaluated once per event either way, errors included),
// else the && of the event-only terms of its top-level && chain.
func (c *Compiled) attachGuard(cond *condition, role exprRole, steps map[string]bool, reg *Registry) {
	if c.env.opts.NoGuards {
		return
	}
	x := cond.x
	if !x.usesMatch && !x.usesAgg {
		pins := pinsOf(x)
		if cond.slot >= 0 {
			cond.pins, cond.disp = pins, dispatchOf(pins)
			cond.guard = cond
		} else {
			cond.guard = &guard{x: x, slot: -1, pins: pins, disp: dispatchOf(pins)}
		}
		return
	}
	text, ok := eventOnlyTerms(x)
	if !ok {
		return
	}
	gx, errs := c.env.compileExpr(text, patterns.Src{}, c.Rule.Source, role, steps)
	if errs != nil || gx.usesMatch || gx.usesAgg {
		return // cannot happen for terms of a checked expression; no guard is always safe
	}
	gx.useTermMemo(reg)
	g := &guard{x: gx, slot: -1}
	if reg != nil {
		g.x, g.slot = reg.registerGuard(gx)
	}
	g.pins = pinsOf(g.x)
	g.disp = dispatchOf(g.pins)
	cond.guard = g
}

// eventOnlyTerms returns the terms of x's top-level && chain that do not read match,
// printed as one && expression; false when there are none.
func eventOnlyTerms(x *compiledExpr) (string, bool) {
	native := x.ast.NativeRep()
	var terms []string
	var walk func(e ast.Expr) bool
	walk = func(e ast.Expr) bool {
		if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
			for _, a := range e.AsCall().Args() {
				if !walk(a) {
					return false
				}
			}
			return true
		}
		if readsIdent(e, "match") || readsIdent(e, "agg") {
			return true
		}
		s, err := parser.Unparse(e, native.SourceInfo())
		if err != nil {
			return false
		}
		terms = append(terms, "("+s+")")
		return true
	}
	if !walk(native.Expr()) || len(terms) == 0 {
		return "", false
	}
	return strings.Join(terms, " && "), true
}

// readsIdent reports whether e reads the variable name (`match`, `agg`).
func readsIdent(e ast.Expr, name string) bool {
	found := false
	visit(e, func(e ast.Expr) {
		if e.Kind() == ast.IdentKind && e.AsIdent() == name {
			found = true
		}
	})
	return found
}

// registerGuard records x as a guard expression: guards share slots with each other (by
// canonical text), never with conditions, whose value differs on an error.
func (r *Registry) registerGuard(x *compiledExpr) (*compiledExpr, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := "guard\x00" + regKey(x.env, x.canonical)
	if prev, ok := r.exprs[key]; ok {
		x = prev
	} else {
		r.exprs[key] = x
	}
	return x, slotOf(r.slots, key)
}
