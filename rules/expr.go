package rules

import (
	"fmt"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/parser"

	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

// exprRole says what an expression is for, for messages and type checks.
type exprRole uint8

const (
	roleWhere exprRole = iota
	roleUntil
	roleEmit
)

func (r exprRole) String() string {
	switch r {
	case roleWhere:
		return "where"
	case roleUntil:
		return "until"
	}
	return "emit"
}

// evalMode says how a compiled condition is evaluated.
type evalMode uint8

const (
	modeInterpreter evalMode = iota // the CEL interpreter
	modeClosure                     // Go closures only
	modeHybrid                      // closures, with interpreter calls for some terms of && / ||
)

var modeNames = [...]string{"interpreter", "closure", "hybrid"}

func (m evalMode) String() string { return modeNames[m] }

// compiledExpr is one type-checked, cost-checked expression with its interpreter program
// and, for conditions, its closure. It is immutable and shared (see Registry).
type compiledExpr struct {
	env  *Env
	text string
	// canonical is the expression printed back from its AST: equal meaning, equal text
	// (whitespace and formatting do not matter).
	canonical string
	ast       *cel.Ast
	prog      cel.Program
	usesMatch bool
	// usesAgg: the expression reads agg (the key's aggregate values, per rule), so it is
	// neither memoised nor shared across rules, like one that reads match.
	usesAgg bool
	// aggs maps the rule's aggregate names to their indexes (agg.NAME).
	aggs map[string]int
	// steps restricts `match` to the rule's steps (nil: any name); only set when usesMatch.
	steps map[string]bool
	fn    condFn
	mode  evalMode
	cost  uint64 // estimated worst-case cost
	// data are the datasets the expression reads (in_list, ref, lookup), sorted.
	data []string
}

// compileExpr parses, type-checks and cost-checks text, and prepares its evaluation.
// Errors are in file coordinates (through src).
func (env *Env) compileExpr(text string, src patterns.Src, file string, role exprRole, steps map[string]bool) (*compiledExpr, patterns.ErrorList) {
	return env.compileExprAggs(text, src, file, role, steps, nil)
}

// compileExprAggs is compileExpr for a rule whose aggregates are aggs (agg.NAME → index).
func (env *Env) compileExprAggs(text string, src patterns.Src, file string, role exprRole, steps map[string]bool, aggs map[string]int) (*compiledExpr, patterns.ErrorList) {
	var errs patterns.ErrorList
	errAt := func(line, col int, format string, args ...any) {
		errs = append(errs, &patterns.Error{File: file, Pos: src.Map(line, col), Msg: fmt.Sprintf(format, args...)})
	}
	checked, iss := env.cel.Compile(text)
	if iss != nil && iss.Err() != nil {
		for _, is := range env.describeIssues(text, iss) {
			errAt(is.line, is.col, "%s: %s", role, is.msg)
		}
		return nil, errs
	}
	native := checked.NativeRep()
	for _, is := range literalIssues(text, native) {
		errAt(is.line, is.col, "%s: %s", role, is.msg)
	}
	if role != roleEmit {
		out := checked.OutputType()
		if out.Kind() != types.BoolKind && out.Kind() != types.DynKind {
			errAt(1, 1, "%s must be a true/false condition, this expression is %s", role, typeWords(out))
		}
	}
	usesMatch := false
	visit(native.Expr(), func(e ast.Expr) {
		if e.Kind() == ast.IdentKind && e.AsIdent() == "match" {
			usesMatch = true
		}
	})
	usesAgg := readsIdent(native.Expr(), "agg")
	if usesAgg {
		checkAggs(native, aggs, func(id int64, msg string) {
			loc := native.SourceInfo().GetStartLocation(id)
			errAt(loc.Line(), loc.Column()+1, "%s: %s", role, msg)
		})
	}
	if usesMatch && steps != nil {
		env.checkSteps(native, steps, func(id int64, msg string) {
			loc := native.SourceInfo().GetStartLocation(id)
			errAt(loc.Line(), loc.Column()+1, "%s: %s", role, msg)
		})
	}
	data := env.checkData(native, func(id int64, msg string) {
		loc := native.SourceInfo().GetStartLocation(id)
		errAt(loc.Line(), loc.Column()+1, "%s: %s", role, msg)
	})
	est, err := env.cel.EstimateCost(checked, env.est)
	if err != nil {
		errAt(1, 1, "%s: cannot estimate the cost of this expression: %v", role, err)
	} else if est.Max > env.opts.CostLimit {
		errAt(1, 1, "%s is too costly: its worst-case cost is %s, over the limit of %d (assuming up to %d events per step in match and strings up to %d characters); avoid nesting loops over match",
			role, costWords(est.Max), env.opts.CostLimit, env.opts.MaxMatchEvents, env.opts.MaxStringSize)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	prog, err := env.program(checked.NativeRep())
	if err != nil {
		errAt(1, 1, "%s: %v", role, err)
		return nil, errs
	}
	canonical, err := cel.AstToString(checked)
	if err != nil {
		canonical = text
	}
	x := &compiledExpr{env: env, text: text, canonical: canonical, ast: checked, prog: prog,
		usesMatch: usesMatch, usesAgg: usesAgg, cost: est.Max, data: data}
	if usesAgg {
		x.aggs = aggs
	}
	if usesMatch {
		x.steps = steps
	}
	if role != roleEmit && !env.opts.NoClosures {
		x.compileClosure()
	}
	return x, nil
}

// program plans an interpreter program for a checked AST, optimised (constant lists
// and maps built once, `in` a constant list a hash lookup); expressions with
// comprehensions get a runtime cost limit (others cannot grow with the data, and cost
// tracking slows evaluation down).
func (env *Env) program(a *ast.AST) (cel.Program, error) {
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if hasComprehension(a.Expr()) {
		opts = append(opts, cel.CostLimit(env.opts.RuntimeCostLimit), cel.CostTracking(env.est))
	}
	return env.cel.PlanProgram(a, opts...)
}

// subAST is the checked AST of a sub-expression of a.
func subAST(a *ast.AST, e ast.Expr) *ast.AST {
	return ast.NewCheckedAST(ast.NewAST(e, a.SourceInfo()), a.TypeMap(), a.ReferenceMap())
}

func (x *compiledExpr) compileClosure() {
	cc := x.closureCompiler()
	fn, ok := cc.boolOf(x.ast.NativeRep().Expr())
	if !ok || cc.leaves > 0 && cc.fastTerms == 0 {
		return
	}
	x.fn = fn
	x.mode = modeClosure
	if cc.leaves > 0 {
		x.mode = modeHybrid
	}
}

// useTermMemo recompiles x's closure (x not yet shared) with its event-only terms
// evaluated through reg's term slots (closureCompiler.memoTerm). Not on the reference
// paths (Options.NoGuards, NoClosures) nor without a registry.
func (x *compiledExpr) useTermMemo(reg *Registry) {
	if x.fn == nil || reg == nil || x.env.opts.NoGuards {
		return
	}
	cc := x.closureCompiler()
	native := x.ast.NativeRep()
	cc.termSlot = func(e ast.Expr) int {
		text, err := parser.Unparse(e, native.SourceInfo())
		if err != nil {
			return -1
		}
		return reg.termSlot(x.env, text)
	}
	if fn, ok := cc.boolOf(native.Expr()); ok {
		x.fn = fn
	}
}

// closureCompiler returns a closure compiler for x: constants are folded with the
// interpreter, terms it cannot compile become interpreter calls.
func (x *compiledExpr) closureCompiler() *closureCompiler {
	native := x.ast.NativeRep()
	cc := &closureCompiler{env: x.env, a: native, steps: x.steps, matched: (*nfa.EvalContext).Matched,
		start: (*nfa.EvalContext).StartEvent, aggs: x.aggs}
	cc.constant = func(e ast.Expr) (ref.Val, bool) {
		p, err := x.env.program(subAST(native, e))
		if err != nil {
			return nil, false
		}
		v, _, err := p.Eval(cel.NoVars())
		if err != nil {
			return types.NewErr("%v", err), true
		}
		return v, true
	}
	cc.leaf = func(e ast.Expr) (condFn, bool) {
		p, err := x.env.program(subAST(native, e))
		if err != nil {
			return nil, false
		}
		return func(c *nfa.EvalContext) tri {
			v, err := x.env.eval(p, c.Event, matchSource{ctx: c, steps: x.steps, aggNames: x.aggs})
			if err != nil {
				return tErr
			}
			if b, ok := v.(types.Bool); ok {
				return b2t(bool(b))
			}
			return tErr
		}, true
	}
	return cc
}

// interpret evaluates the expression with the CEL interpreter.
func (x *compiledExpr) interpret(c *nfa.EvalContext) (ref.Val, error) {
	return x.env.eval(x.prog, c.Event, matchSource{ctx: c, steps: x.steps, aggNames: x.aggs})
}

// member returns, for ident.name or ident['name'] (a literal name), the identifier
// expression and the name; ok is false for any other expression.
func member(e ast.Expr, ident string) (operand ast.Expr, name string, ok bool) {
	operand, name, ok = access(e, true)
	if !ok || operand.Kind() != ast.IdentKind || operand.AsIdent() != ident {
		return nil, "", false
	}
	return operand, name, true
}

// access splits x.name and x['name'] (a string literal) into x and name; has(x.name)
// too when withHas.
func access(e ast.Expr, withHas bool) (operand ast.Expr, name string, ok bool) {
	switch e.Kind() {
	case ast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() && !withHas {
			return nil, "", false
		}
		return sel.Operand(), sel.FieldName(), true
	case ast.CallKind:
		c := e.AsCall()
		if c.FunctionName() != operators.Index || len(c.Args()) != 2 {
			return nil, "", false
		}
		s, isStr := literal(c.Args()[1]).(types.String)
		if !isStr {
			return nil, "", false
		}
		return c.Args()[0], string(s), true
	}
	return nil, "", false
}

// checkSteps reports match.name / match['name'] references to steps the rule lacks.
func (env *Env) checkSteps(a *ast.AST, steps map[string]bool, report func(id int64, msg string)) {
	visit(a.Expr(), func(e ast.Expr) {
		operand, name, ok := member(e, "match")
		if !ok || steps[name] {
			return
		}
		names := make([]string, 0, len(steps))
		for n := range steps {
			names = append(names, n)
		}
		sort.Strings(names)
		report(operand.ID(), fmt.Sprintf("match.%s: this rule has no step named %q (its steps: %s)", name, name, strings.Join(names, ", ")))
	})
}

// explainIssue rewrites cel-go's messages where an analyst needs more to go on.
func (env *Env) explainIssue(msg string) string {
	if strings.HasPrefix(msg, "undefined field '") && env.schema != nil {
		return fmt.Sprintf("%s: the event has no such field (fields: %s)", msg, env.fieldNamesHint())
	}
	if strings.HasPrefix(msg, "found no matching overload for") {
		if (strings.Contains(msg, "'_==_'") || strings.Contains(msg, "'_!=_'") || strings.Contains(msg, "'@in'")) &&
			(strings.Contains(msg, "int, double") || strings.Contains(msg, "double, int") || strings.Contains(msg, "(double, list(int))") || strings.Contains(msg, "(int, list(double))")) {
			return "type mismatch: " + msg + " (== between an int and a double needs the same type: write 100.0 rather than 100, or convert with double(...) / int(...))"
		}
		return "type mismatch: " + msg
	}
	return msg
}

// typeWords names a CEL type for an analyst.
func typeWords(t *cel.Type) string {
	switch t.Kind() {
	case types.StringKind:
		return "a string"
	case types.IntKind:
		return "an integer"
	case types.UintKind:
		return "an unsigned integer"
	case types.DoubleKind:
		return "a number"
	case types.TimestampKind:
		return "a timestamp"
	case types.DurationKind:
		return "a duration"
	case types.ListKind:
		return "a list"
	case types.MapKind:
		return "a map"
	case types.NullTypeKind:
		return "null"
	case types.BytesKind:
		return "bytes"
	case types.StructKind:
		if t.TypeName() == eventTypeName {
			return "an event"
		}
	}
	return "of type " + t.String()
}

func costWords(c uint64) string {
	if c == ^uint64(0) {
		return "unbounded"
	}
	return fmt.Sprint(c)
}
