package rules

import (
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

// bench3 is the 3-clause condition of the benchmarks; baseTxn satisfies it, so every
// clause is evaluated.
const bench3 = "e.amount > 100.0 && e.country != 'US' && e.mcc in ['5967','7995']"

func benchCond(b *testing.B, env *Env, src string, ev *event.Event, interp bool) {
	c := compileCond(b, env, src)
	if interp {
		c.x.fn = nil
	} else if c.x.fn == nil {
		b.Fatalf("%q has no closure", src)
	}
	ctx := &nfa.EvalContext{Event: ev}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !c.Eval(ctx) {
			b.Fatal("false")
		}
	}
}

// BenchmarkCondition compares the closure path with the CEL interpreter (reused pooled
// activation) on the 3-clause condition, in the typed and the dynamic environment.
func BenchmarkCondition(b *testing.B) {
	env := testEnv(b)
	ev := decode(b, env.Schema(), baseTxn)
	b.Run("closure", func(b *testing.B) { benchCond(b, env, bench3, ev, false) })
	b.Run("interpreter", func(b *testing.B) { benchCond(b, env, bench3, ev, true) })
	denv := dynEnv(b)
	dev := decode(b, dynSchema(b, "card_id", "ts", "amount", "country", "mcc"), `{"card_id": "c", "ts": 1, "amount": 250.5, "country": "FR", "mcc": "5967"}`)
	b.Run("dynamic-closure", func(b *testing.B) { benchCond(b, denv, bench3, dev, false) })
	b.Run("dynamic-interpreter", func(b *testing.B) { benchCond(b, denv, bench3, dev, true) })
}

// BenchmarkConditionMemo is a condition shared by several rules after its first
// evaluation for the event: a memo lookup.
func BenchmarkConditionMemo(b *testing.B) {
	env := testEnv(b)
	ev := decode(b, env.Schema(), baseTxn)
	c := compileCond(b, env, bench3)
	c.slot = 0
	memo := nfa.NewMemo(1)
	ctx := &nfa.EvalContext{Event: ev, Memo: memo}
	c.Eval(ctx)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !c.Eval(ctx) {
			b.Fatal("false")
		}
	}
}

// BenchmarkIterative evaluates an iterative condition (the conformance corpus's shape)
// over a partial match of 10 events: with the interpreter, with and without its runtime
// cost tracking, and as an aggregate closure (typed environment).
func BenchmarkIterative(b *testing.B) {
	const src = "sum(match.middle.map(x, x.amount)) + e.amount < 5000.0"
	env := testEnv(b)
	var evs []*event.Event
	for range 10 {
		evs = append(evs, decode(b, env.Schema(), baseTxn))
	}
	m := &nfa.Match{Steps: []nfa.StepEvents{{Step: "middle", Events: evs}}}
	x, errs := env.compileExpr(src, patterns.Src{}, "", roleWhere, nil)
	if errs != nil {
		b.Fatal(errs)
	}
	untracked, err := env.cel.Program(x.ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []struct {
		name string
		prog cel.Program
	}{{"interpreter-cost-limited", x.prog}, {"interpreter-untracked", untracked}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				v, err := env.eval(p.prog, evs[0], matchSource{match: m})
				if err != nil || v != types.True {
					b.Fatal(v, err)
				}
			}
		})
	}
	b.Run("closure", func(b *testing.B) {
		cc := x.closureCompiler()
		cc.matched = func(_ *nfa.EvalContext, step string) []*event.Event { return evs }
		fn, ok := cc.boolOf(x.ast.NativeRep().Expr())
		if !ok || cc.leaves > 0 {
			b.Fatal("no closure")
		}
		ctx := &nfa.EvalContext{Event: evs[0]}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if fn(ctx) != tTrue {
				b.Fatal("false")
			}
		}
	})
}

// BenchmarkCompileExpr is the cost of compiling one condition (parse, check, cost
// estimate, interpreter plan, closures).
func BenchmarkCompileExpr(b *testing.B) {
	env := testEnv(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, errs := env.compileExpr(bench3, patterns.Src{}, "", roleWhere, nil); errs != nil {
			b.Fatal(errs)
		}
	}
}
