package rules

import (
	"strings"
	"sync/atomic"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// The closure compiler turns a type-checked CEL AST into Go closures over the event, for
// the shapes rules use most: field/constant comparisons, membership in constant lists,
// presence tests, string tests, simple arithmetic and the logical operators. It returns
// false for anything else, and the expression (or, inside && and ||, the sub-expression)
// is evaluated by the CEL interpreter instead. The closures compute exactly what the
// interpreter computes, errors included (FuzzClosureVsInterpreter checks it).

// condFn evaluates a boolean expression; evalFn any expression.
type (
	condFn func(x *nfa.EvalContext) tri
	evalFn func(x *nfa.EvalContext) cval
)

type closureCompiler struct {
	env *Env
	a   *ast.AST
	// leaf, when set, compiles a term of && / || the closures cannot handle into an
	// interpreter call, so that the rest of the expression still runs as closures.
	leaf func(e ast.Expr) (condFn, bool)
	// constant evaluates a variable-free sub-expression once, at compile time.
	constant func(e ast.Expr) (ref.Val, bool)
	// steps are the rule's step names (nil: any name), for match.step.
	steps map[string]bool
	// matched returns the events of a step of the partial match: (*nfa.EvalContext).Matched
	// (tests substitute their own).
	matched func(x *nfa.EvalContext, step string) []*event.Event
	// start returns first(match.step) when the matcher knows it without reading the
	// partial match: (*nfa.EvalContext).StartEvent (nil, or false: read matched).
	start func(x *nfa.EvalContext, step string) (*event.Event, bool)
	// leaves and fastTerms count the interpreter and closure terms of && / || chains.
	leaves, fastTerms int
	// aggs are the rule's aggregate names (agg.NAME → index in rules.Aggregates).
	aggs map[string]int
	// termSlot, when set, gives an event-only term of a && / || chain its nfa.Memo
	// term slot (memoTerm); -1 for none.
	termSlot func(e ast.Expr) int
}

// fieldRef reads one field of the event: by index when the event has the environment's
// schema, else by name (the index per schema is cached; the cache is the closure's only
// mutable state and is safe for concurrent use).
type fieldRef struct {
	s     *event.Schema
	idx   int
	name  string
	cache atomic.Pointer[fieldSlot]
}

type fieldSlot struct {
	s   *event.Schema
	idx int
	ok  bool
}

func (f *fieldRef) get(ev *event.Event) event.Value {
	if ev.Schema == f.s && uint(f.idx) < uint(ev.Len()) {
		return ev.Value(f.idx)
	}
	return f.slow(ev)
}

func (f *fieldRef) slow(ev *event.Event) event.Value {
	c := f.cache.Load()
	if c == nil || c.s != ev.Schema {
		c = &fieldSlot{s: ev.Schema}
		if ev.Schema != nil {
			c.idx, c.ok = ev.Schema.Index(f.name)
		}
		f.cache.Store(c)
	}
	if !c.ok || uint(c.idx) >= uint(ev.Len()) {
		return event.Value{}
	}
	return ev.Value(c.idx)
}

// fieldOf recognises e.f, e['f'] (operand is the variable e) and returns its reader.
func (c *closureCompiler) fieldOf(e ast.Expr) (*fieldRef, bool) {
	operand, name, ok := access(e, false)
	if !ok {
		return nil, false
	}
	return c.fieldNamed(operand, name)
}

func (c *closureCompiler) fieldNamed(operand ast.Expr, name string) (*fieldRef, bool) {
	if !c.isEventVar(operand) {
		return nil, false
	}
	return c.newFieldRef(name)
}

// newFieldRef returns a reader of the named field of an event.
func (c *closureCompiler) newFieldRef(name string) (*fieldRef, bool) {
	f := &fieldRef{name: name, idx: -1}
	if s := c.env.schema; s != nil {
		i, ok := s.Index(name)
		if !ok {
			return nil, false
		}
		f.s, f.idx = s, i
	}
	return f, true
}

func (c *closureCompiler) isEventVar(e ast.Expr) bool { return c.isVar(e, "e") }

// isVar reports whether e is the (global) variable name.
func (c *closureCompiler) isVar(e ast.Expr, name string) bool {
	if e.Kind() != ast.IdentKind || e.AsIdent() != name {
		return false
	}
	r, ok := c.a.ReferenceMap()[e.ID()]
	return !ok || (r.Name == name && r.Value == nil)
}

func literal(e ast.Expr) ref.Val {
	if e.Kind() != ast.LiteralKind {
		return nil
	}
	return e.AsLiteral()
}

func (c *closureCompiler) staticKind(e ast.Expr) types.Kind {
	t := c.a.GetType(e.ID())
	if t == nil {
		return types.DynKind
	}
	return t.Kind()
}

// constOf returns the closure value of a constant sub-expression.
func (c *closureCompiler) constOf(e ast.Expr) (cval, bool) {
	if lit := literal(e); lit != nil {
		return fromCEL(lit)
	}
	if c.constant == nil || !isConstant(e) {
		return cval{}, false
	}
	v, ok := c.constant(e)
	if !ok {
		return cval{}, false
	}
	if types.IsError(v) {
		return errVal, true
	}
	return fromCEL(v)
}

// isConstant reports whether e reads no variable and has no comprehension.
func isConstant(e ast.Expr) bool {
	ok := true
	visit(e, func(x ast.Expr) {
		switch x.Kind() {
		case ast.IdentKind, ast.ComprehensionKind, ast.StructKind:
			ok = false
		case ast.CallKind:
			if _, data := dataFuncs[x.AsCall().FunctionName()]; data {
				ok = false // reference data changes without a recompilation
			}
		}
	})
	return ok
}

// The operators the closures compile, by CEL function name.
var (
	cmpOps = map[string]cmpOp{
		operators.Equals:        opEq,
		operators.NotEquals:     opNe,
		operators.Less:          opLt,
		operators.LessEquals:    opLe,
		operators.Greater:       opGt,
		operators.GreaterEquals: opGe,
	}
	arithOps = map[string]arithOp{
		operators.Add:      opAdd,
		operators.Subtract: opSub,
		operators.Multiply: opMul,
		operators.Divide:   opDiv,
		operators.Modulo:   opMod,
	}
	// strOps are the string tests, as the functions the closures call, picked here once
	// rather than by a switch at each evaluation.
	strOps = map[string]func(s, arg string) bool{
		overloads.StartsWith: strings.HasPrefix,
		overloads.EndsWith:   strings.HasSuffix,
		overloads.Contains:   strings.Contains,
	}
)

// boolOf compiles a boolean expression.
func (c *closureCompiler) boolOf(e ast.Expr) (condFn, bool) {
	switch e.Kind() {
	case ast.LiteralKind:
		if b, ok := literal(e).(types.Bool); ok {
			t := b2t(bool(b))
			return func(*nfa.EvalContext) tri { return t }, true
		}
	case ast.SelectKind:
		if sel := e.AsSelect(); sel.IsTestOnly() {
			f, ok := c.fieldNamed(sel.Operand(), sel.FieldName())
			if !ok {
				return nil, false
			}
			return func(x *nfa.EvalContext) tri { return b2t(f.get(x.Event).Kind > event.KindNull) }, true
		}
	case ast.CallKind:
		call := e.AsCall()
		fn, args := call.FunctionName(), call.Args()
		switch fn {
		case operators.LogicalAnd, operators.LogicalOr:
			return c.logical(e, fn == operators.LogicalAnd)
		case operators.LogicalNot:
			a, ok := c.boolOf(args[0])
			if !ok {
				return nil, false
			}
			return func(x *nfa.EvalContext) tri {
				switch a(x) {
				case tTrue:
					return tFalse
				case tFalse:
					return tTrue
				}
				return tErr
			}, true
		case operators.Conditional:
			return conditional(c, args, c.boolOf, tErr)
		case operators.In:
			if f, ok := c.inMatch(args[0], args[1]); ok {
				return f, true
			}
			return c.in(args[0], args[1])
		}
		if op, ok := cmpOps[fn]; ok {
			if len(args) != 2 {
				return nil, false
			}
			return c.compare(op, args[0], args[1])
		}
		if test, ok := strOps[fn]; ok {
			if !call.IsMemberFunction() || len(args) != 1 {
				return nil, false
			}
			return c.strTest(test, call.Target(), args[0])
		}
	}
	v, ok := c.valOf(e)
	if !ok {
		return nil, false
	}
	return func(x *nfa.EvalContext) tri { return v(x).tri() }, true
}

// valOf compiles an expression to a value closure.
func (c *closureCompiler) valOf(e ast.Expr) (evalFn, bool) {
	if k, ok := c.constOf(e); ok {
		return func(*nfa.EvalContext) cval { return k }, true
	}
	if f, ok := c.fieldOf(e); ok {
		return func(x *nfa.EvalContext) cval { return fromValue(f.get(x.Event)) }, true
	}
	if e.Kind() == ast.SelectKind && e.AsSelect().IsTestOnly() {
		return c.boolVal(e)
	}
	if fn, ok := c.aggValue(e); ok {
		return fn, true
	}
	if e.Kind() == ast.SelectKind {
		return c.endField(e)
	}
	if e.Kind() != ast.CallKind {
		return nil, false
	}
	if fn, ok := c.aggregate(e); ok {
		return fn, true
	}
	return c.callVal(e)
}

// callVal compiles a call (an operator, a conversion, size or a helper) to a value
// closure.
func (c *closureCompiler) callVal(e ast.Expr) (evalFn, bool) {
	call := e.AsCall()
	fn, args := call.FunctionName(), call.Args()
	switch fn {
	case operators.LogicalAnd, operators.LogicalOr, operators.LogicalNot, operators.In:
		return c.boolVal(e)
	case operators.Conditional:
		return conditional(c, args, c.valOf, errVal)
	case operators.Negate, overloads.TypeConvertInt, overloads.TypeConvertDouble:
		return c.numericVal(fn, call, args)
	case overloads.Size:
		return c.sizeVal(call, args)
	}
	if f, ok := c.helperCall(fn, call, args); ok {
		return f, true
	}
	if f, ok := c.dataCall(fn, call, args); ok {
		return f, true
	}
	if _, ok := cmpOps[fn]; ok {
		return c.boolVal(e)
	}
	if _, ok := strOps[fn]; ok {
		return c.boolVal(e)
	}
	if op, ok := arithOps[fn]; ok && len(args) == 2 {
		return c.arithVal(op, args)
	}
	return nil, false
}

// conditional compiles cond ? a : b, a and b compiled by of (valOf for values, boolOf
// for conditions); an undecided condition gives orErr.
func conditional[F ~func(*nfa.EvalContext) T, T any](c *closureCompiler, args []ast.Expr, of func(ast.Expr) (F, bool), orErr T) (F, bool) {
	cond, ok1 := c.boolOf(args[0])
	a, ok2 := of(args[1])
	b, ok3 := of(args[2])
	if !ok1 || !ok2 || !ok3 {
		return nil, false
	}
	return func(x *nfa.EvalContext) T {
		switch cond(x) {
		case tTrue:
			return a(x)
		case tFalse:
			return b(x)
		}
		return orErr
	}, true
}

// numericVal compiles -x, int(x) and double(x) of an int or double x.
func (c *closureCompiler) numericVal(fn string, call ast.CallExpr, args []ast.Expr) (evalFn, bool) {
	if fn != operators.Negate && (call.IsMemberFunction() || len(args) != 1) {
		return nil, false
	}
	if k := c.staticKind(args[0]); k != types.IntKind && k != types.DoubleKind {
		return nil, false
	}
	a, ok := c.valOf(args[0])
	if !ok {
		return nil, false
	}
	switch fn {
	case operators.Negate:
		return func(x *nfa.EvalContext) cval { return negate(a(x)) }, true
	case overloads.TypeConvertInt:
		return func(x *nfa.EvalContext) cval { return toInt(a(x)) }, true
	}
	return func(x *nfa.EvalContext) cval { return toDouble(a(x)) }, true
}

// sizeVal compiles size(s) and s.size() of a string s (its length in code points).
func (c *closureCompiler) sizeVal(call ast.CallExpr, args []ast.Expr) (evalFn, bool) {
	var arg ast.Expr
	switch {
	case call.IsMemberFunction() && len(args) == 0:
		arg = call.Target()
	case !call.IsMemberFunction() && len(args) == 1:
		arg = args[0]
	default:
		return nil, false
	}
	if c.staticKind(arg) != types.StringKind {
		return nil, false
	}
	a, ok := c.valOf(arg)
	if !ok {
		return nil, false
	}
	return func(x *nfa.EvalContext) cval {
		s := a(x)
		if s.k != kString {
			return errVal
		}
		return vInt(runeCount(s.s))
	}, true
}

// arithVal compiles a binary arithmetic operator over operands of one static kind (int,
// double, or strings joined by +), and the difference of two timestamps.
func (c *closureCompiler) arithVal(op arithOp, args []ast.Expr) (evalFn, bool) {
	if op == opSub && c.staticKind(args[0]) == types.TimestampKind && c.staticKind(args[1]) == types.TimestampKind {
		l, ok1 := c.valOf(args[0])
		r, ok2 := c.valOf(args[1])
		if !ok1 || !ok2 {
			return nil, false
		}
		return func(x *nfa.EvalContext) cval { return subTimes(l(x), r(x)) }, true
	}
	lk, rk := c.staticKind(args[0]), c.staticKind(args[1])
	if lk != rk || !(lk == types.IntKind || lk == types.DoubleKind || (lk == types.StringKind && op == opAdd)) {
		return nil, false
	}
	l, ok1 := c.valOf(args[0])
	r, ok2 := c.valOf(args[1])
	if !ok1 || !ok2 {
		return nil, false
	}
	return func(x *nfa.EvalContext) cval { return arith(op, l(x), r(x)) }, true
}

func (c *closureCompiler) boolVal(e ast.Expr) (evalFn, bool) {
	leaf := c.leaf
	c.leaf = nil // leaves only stand for whole terms of a condition
	b, ok := c.boolOf(e)
	c.leaf = leaf
	if !ok {
		return nil, false
	}
	return func(x *nfa.EvalContext) cval { return b(x).val() }, true
}
