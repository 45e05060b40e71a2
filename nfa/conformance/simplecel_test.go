package conformance

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

// simpleCEL is a slow, obviously-correct condition compiler over maps, used to test the
// matcher independently of the rules package.
func simpleCEL(schema *event.Schema, pat *patterns.Pattern, s *patterns.Step, kind nfa.CondKind) (nfa.Condition, error) {
	env, err := cel.NewEnv(
		cel.Variable("e", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("match", cel.MapType(cel.StringType, cel.ListType(cel.MapType(cel.StringType, cel.DynType)))),
		cel.Function("sum", cel.Overload("sum_list", []*cel.Type{cel.ListType(cel.DynType)}, cel.DoubleType,
			cel.UnaryBinding(func(v ref.Val) ref.Val {
				l := v.(traits.Lister)
				total := 0.0
				it := l.Iterator()
				for it.HasNext() == types.True {
					switch x := it.Next().(type) {
					case types.Double:
						total += float64(x)
					case types.Int:
						total += float64(x)
					default:
						return types.NewErr("sum of non-number")
					}
				}
				return types.Double(total)
			}))),
	)
	if err != nil {
		return nil, err
	}
	expr := s.Where
	if kind == nfa.CondUntil {
		expr = s.Until
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%s: %w", expr, iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		return nil, err
	}
	names := pat.StepNames()
	return nfa.ConditionFunc(func(ctx *nfa.EvalContext) bool {
		match := map[string][]map[string]any{}
		for _, n := range names {
			evs := ctx.Matched(n)
			l := make([]map[string]any, len(evs))
			for i, e := range evs {
				l[i] = e.Fields()
			}
			match[n] = l
		}
		out, _, err := prg.Eval(map[string]any{"e": ctx.Event.Fields(), "match": match})
		if err != nil {
			return false
		}
		b, ok := out.Value().(bool)
		return ok && b
	}), nil
}
