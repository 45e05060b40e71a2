package rules

import (
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// costEstimator sizes the inputs of an expression for cel-go's worst-case cost estimate:
// a step of `match` holds up to maxMatch events, strings are up to maxStr long, an event
// has `fields` fields. It also prices the helper functions, both at compile time and at
// run time (cost.ActualCostEstimator).
type costEstimator struct {
	maxMatch, maxStr, fields uint64
}

var (
	_ cost.Estimator           = (*costEstimator)(nil)
	_ cost.ActualCostEstimator = (*costEstimator)(nil)
)

// maxSteps bounds the number of steps of a rule, for sizing `match` itself.
const maxSteps = 256

// EstimateSize implements cost.Estimator.
func (c *costEstimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) == 0 || (path[0] != "e" && path[0] != "match") {
		return nil
	}
	t := n.Type()
	if t == nil {
		return nil
	}
	var sz cost.SizeEstimate
	switch t.Kind() {
	case types.StringKind, types.BytesKind, types.DynKind:
		sz = cost.RangedSizeEstimate(0, c.maxStr)
	case types.ListKind:
		sz = cost.RangedSizeEstimate(0, c.maxMatch)
	case types.MapKind:
		if path[0] == "match" {
			sz = cost.RangedSizeEstimate(0, maxSteps)
		} else {
			sz = cost.RangedSizeEstimate(0, c.fields)
		}
	case types.StructKind:
		sz = cost.RangedSizeEstimate(0, c.fields)
	default:
		return nil
	}
	return &sz
}

// listCostFactor is the per-element cost of a helper that walks its list argument.
func listCostFactor(overloadID string) (float64, bool) {
	switch overloadID {
	case ovSum, ovAvg, ovMin, ovMax:
		return 1, true
	case ovDistinct:
		return 2, true
	}
	return 0, false
}

// EstimateCallCost implements cost.Estimator.
func (c *costEstimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	f, ok := listCostFactor(overloadID)
	if !ok || len(args) != 1 {
		return nil
	}
	sz := cost.EstimateSize(c, args[0])
	if sz.IsUnknown() {
		sz = cost.RangedSizeEstimate(0, c.maxMatch)
	}
	est := sz.MultiplyByCostFactor(f).Add(cost.FixedCostEstimate(1))
	return &cost.CallEstimate{CostEstimate: est}
}

// CallCost implements cost.ActualCostEstimator: helpers that walk a list cost its length.
func (c *costEstimator) CallCost(function, overloadID string, args []ref.Val, result ref.Val) *uint64 {
	f, ok := listCostFactor(overloadID)
	if !ok || len(args) != 1 {
		return nil
	}
	n := uint64(0)
	if s, ok := args[0].(traits.Sizer); ok {
		if i, ok := s.Size().(types.Int); ok && i > 0 {
			n = uint64(i)
		}
	}
	v := 1 + uint64(float64(n)*f)
	return &v
}

// hasComprehension reports whether e contains a comprehension (a macro such as map,
// filter, exists, all): only those can have a cost that grows with the data.
func hasComprehension(e ast.Expr) bool {
	found := false
	visit(e, func(x ast.Expr) {
		if x.Kind() == ast.ComprehensionKind {
			found = true
		}
	})
	return found
}

// visit calls fn for e and every sub-expression of e.
func visit(e ast.Expr, fn func(ast.Expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch e.Kind() {
	case ast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() {
			visit(c.Target(), fn)
		}
		for _, a := range c.Args() {
			visit(a, fn)
		}
	case ast.SelectKind:
		visit(e.AsSelect().Operand(), fn)
	case ast.ListKind:
		for _, x := range e.AsList().Elements() {
			visit(x, fn)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			me := en.AsMapEntry()
			visit(me.Key(), fn)
			visit(me.Value(), fn)
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			visit(f.AsStructField().Value(), fn)
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		visit(c.IterRange(), fn)
		visit(c.AccuInit(), fn)
		visit(c.LoopCondition(), fn)
		visit(c.LoopStep(), fn)
		visit(c.Result(), fn)
	}
}
