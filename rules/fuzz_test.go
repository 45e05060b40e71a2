package rules

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

// differential compares the closure path with the interpreter for one expression and one
// event: the condition's truth value and error-ness, and the value of the whole
// expression when the value compiler accepts it.
type differential struct {
	typed, dyn   *Env
	typedS, dynS *event.Schema
}

func newDifferential(t testing.TB) *differential {
	d := &differential{typed: testEnv(t), dyn: dynEnv(t)}
	d.typedS = d.typed.Schema()
	fields := make([]event.Field, len(d.typedS.Fields))
	for i, f := range d.typedS.Fields {
		fields[i] = event.Field{Name: f.Name, Type: event.TypeAny}
	}
	s, err := event.NewSchema("dyn", fields, "card_id", "ts", "")
	if err != nil {
		t.Fatal(err)
	}
	d.dynS = s
	return d
}

// testSteps are the steps of the partial matches the differential generates.
var testSteps = map[string]bool{"a": true, "b": true}

// sample is one event with the partial match a condition sees with it.
type sample struct {
	ev *event.Event
	m  *nfa.Match
}

// check returns "" when both paths agree on every sample (or src does not compile), else
// what differs. The closures read the sample's partial match through closureCompiler's
// matched hook; the interpreter reads it as an emit expression would.
func check(env *Env, src string, samples []sample) string {
	x, errs := env.compileExpr(src, patterns.Src{}, "", roleWhere, testSteps)
	if errs != nil {
		return ""
	}
	var cur *nfa.Match
	interpret := func(p cel.Program, ev *event.Event) (ref.Val, error) {
		return env.eval(p, ev, matchSource{match: cur, steps: testSteps})
	}
	cc := x.closureCompiler()
	cc.matched = func(_ *nfa.EvalContext, step string) []*event.Event {
		for _, s := range cur.Steps {
			if s.Step == step {
				return s.Events
			}
		}
		return nil
	}
	native := x.ast.NativeRep()
	cc.leaf = func(e ast.Expr) (condFn, bool) {
		p, err := env.program(subAST(native, e))
		if err != nil {
			return nil, false
		}
		return func(c *nfa.EvalContext) tri {
			v, err := interpret(p, c.Event)
			if b, ok := v.(types.Bool); ok && err == nil {
				return b2t(bool(b))
			}
			return tErr
		}, true
	}
	cond, ok := cc.boolOf(native.Expr())
	if !ok {
		cond = nil
	}
	cc.leaf = nil
	val, _ := cc.valOf(native.Expr())
	var gx *compiledExpr // the event-only guard (guard.go) of a condition reading match
	if text, ok := eventOnlyTerms(x); ok && x.usesMatch {
		if gx, errs = env.compileExpr(text, patterns.Src{}, "", roleWhere, testSteps); errs != nil {
			return fmt.Sprintf("the guard %q of %q does not compile: %v", text, src, errs)
		}
	}
	for _, s := range samples {
		cur = s.m
		ctx := &nfa.EvalContext{Event: s.ev}
		want, err := interpret(x.prog, s.ev)
		if gx != nil && !(&guard{x: gx, slot: -1}).Eval(ctx) && (err != nil || want != types.False) {
			return describe("guard false, condition", src, s, "false", want, err)
		}
		for _, p := range pinsOf(x) { // the start index's pins (and dispatch, the first string one)
			if p.Fails(s.ev) && (err != nil || want != types.False) {
				return describe(fmt.Sprintf("pin %+v fails, condition", p), src, s, "false", want, err)
			}
		}
		if d := dispatchOf(pinsOf(x)); d.ok {
			if v := s.ev.Value(d.field); v.Kind == event.KindString && !slices.Contains(d.values, v.AsString()) && (err != nil || want != types.False) {
				return describe(fmt.Sprintf("field %d outside %q, condition", d.field, d.values), src, s, "false", want, err)
			}
		}
		if cond != nil {
			if got := cond(ctx); !sameTri(got, want, err) {
				return describe("condition", src, s, [...]string{"false", "true", "error"}[got], want, err)
			}
		}
		if val != nil {
			if got := val(ctx); !sameVal(got, want, err) {
				return describe("value", src, s, cvalString(got), want, err)
			}
		}
	}
	return ""
}

func sameTri(t tri, v ref.Val, err error) bool {
	if t == tErr {
		return err != nil || v.Type() != types.BoolType
	}
	return err == nil && v == types.Bool(t == tTrue)
}

func sameVal(c cval, v ref.Val, err error) bool {
	if c.k == kErr || err != nil {
		return c.k == kErr && err != nil
	}
	// The constructors give one cval per value (a double's bits, n 0 for a string), so
	// the same value is the same struct; NaNs are alike whatever their bits.
	w, ok := fromCEL(v)
	return ok && (c == w || c.k == kDouble && w.k == kDouble && math.IsNaN(c.f()) && math.IsNaN(w.f()))
}

// cvalString shows a closure value: as the reference-data key it is looked up under,
// else (timestamps, durations, errors) as its kind and number.
func cvalString(c cval) string {
	if k, ok := dataKeyOf(c); ok {
		return fmt.Sprintf("%q (kind %d)", k, c.k)
	}
	return fmt.Sprintf("kind %d, %d", c.k, int64(c.n))
}

func describe(what, src string, s sample, got string, want ref.Val, err error) string {
	show := func(ev *event.Event) string {
		var vals []string
		for i, v := range ev.Values() {
			vals = append(vals, fmt.Sprintf("%s=%#v", ev.Schema.Fields[i].Name, v.Interface()))
		}
		return "{" + strings.Join(vals, " ") + "}"
	}
	var m []string
	for _, st := range s.m.Steps {
		for _, ev := range st.Events {
			m = append(m, st.Step+":"+show(ev))
		}
	}
	w := fmt.Sprintf("%v (%T)", want, want)
	if err != nil {
		w = "error: " + err.Error()
	}
	return fmt.Sprintf("%s differs for %s\n  event: %s\n  match: %s\n  closure: %s\n  interpreter: %s",
		what, src, show(s.ev), strings.Join(m, " "), got, w)
}

// checkBoth runs the differential in the typed and the dynamic environment, with n
// samples of each generated from seed.
func (d *differential) checkBoth(src string, seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	gen := func(s *event.Schema, typed bool) []sample {
		out := make([]sample, n)
		for i := range out {
			m := &nfa.Match{}
			for _, step := range []string{"a", "b"} {
				st := nfa.StepEvents{Step: step}
				for range r.IntN(4) {
					st.Events = append(st.Events, randomEvent(r, s, typed))
				}
				m.Steps = append(m.Steps, st)
			}
			out[i] = sample{ev: randomEvent(r, s, typed), m: m}
		}
		return out
	}
	if msg := check(d.typed, src, gen(d.typedS, true)); msg != "" {
		return "typed: " + msg
	}
	if msg := check(d.dyn, src, gen(d.dynS, false)); msg != "" {
		return "dynamic: " + msg
	}
	return ""
}

// TestClosureDifferential is the deterministic part of FuzzClosureVsInterpreter: random
// expressions from exprGen against random events.
func TestClosureDifferential(t *testing.T) {
	d := newDifferential(t)
	g := &exprGen{r: rand.New(rand.NewPCG(1, 2))}
	n := 3000
	if testing.Short() {
		n = 300
	}
	failures := 0
	for i := range n {
		if msg := d.checkBoth(g.boolExpr(1+i%4), uint64(i), 8); msg != "" {
			t.Error(msg)
			if failures++; failures > 10 {
				t.Fatal("too many differences")
			}
		}
	}
}

// fraudShapes are the shapes of the fraud rules' conditions, in the test schema's fields:
// each must give the interpreter's result on the closure path, and its guard and start
// dispatch must only rule out what the interpreter finds false.
var fraudShapes = []string{
	"e.country == 'FR' && has(e.device) && !(e.device in match.a.map(x, x.device))",
	"e.amount < 2.0 && (size(match.a) == 0 || e.ts - last(match.a).ts < duration('3m'))",
	"e.amount >= 20.0 && (size(match.b) == 0 || e.amount >= 1.5 * last(match.b).amount && e.ts - last(match.b).ts < duration('30m'))",
	"has(e.lat) && geo_km(first(match.a).lat, first(match.a).lon, e.lat, e.lon) > 500.0 && geo_km(first(match.a).lat, first(match.a).lon, e.lat, e.lon) > 900.0 * hours_between(first(match.a).ts, e.ts)",
	"seconds_between(first(match.a).ts, e.ts) > 60.0 * hours_between(first(match.a).ts, e.ts)",
	"seconds_between(e.ts, last(match.b).ts) < 0.0",
	"e.txn_id == first(match.a).txn_id && sum(match.b.map(x, x.amount)) + e.amount <= first(match.a).amount",
	// top-level terms that pin (or, for !=, do not pin) a string field: dispatchOf
	"e.country != 'FR' && e.amount > 1.0",
	"'FR' == e.country && e.vip",
	"e.country in ['FR', 'US'] && e.amount > 1.0 && !(e.mcc in match.a.map(x, x.mcc))",
	"e.mcc in ['7995', e.country] && e.amount > 1.0",
	// pins of every kind (nfa.StartIndex's second level): bool, ordered numbers, either side
	// (constants on the samples' values: a test at its boundary decides)
	"e.vip == false && e.amount >= 2.0 && e.amount < 100.0 && e.country != 'US'",
	"100.0 > e.amount && true == e.vip && !(e.device in match.a.map(x, x.device))",
	"e.count >= 3 && 7 > e.count && e.vip != true && e.amount <= 100.0",
	"e.vip && e.lat > 7.0 && e.mcc in ['7995', 'FR'] && 3 <= e.count && 2.0 >= e.amount",
	"e.count > 2 && 7 < e.count && e.count <= 3",
	"3.0 < e.amount && 1.5 <= e.amount && e.amount > 7.0 && 250.5 >= e.amount",
}

// TestClosureDifferentialFraudShapes runs the differential over fraudShapes with many
// samples each.
func TestClosureDifferentialFraudShapes(t *testing.T) {
	d := newDifferential(t)
	for i, src := range fraudShapes {
		if msg := d.checkBoth(src, uint64(i), 300); msg != "" {
			t.Error(msg)
		}
	}
}

// FuzzClosureVsInterpreter checks that closures and the interpreter agree on arbitrary
// expressions (those that compile) and events.
func FuzzClosureVsInterpreter(f *testing.F) {
	for i, s := range append(seedExprs, fraudShapes...) {
		f.Add(s, uint64(i))
	}
	g := &exprGen{r: rand.New(rand.NewPCG(3, 4))}
	for i := range 64 {
		f.Add(g.boolExpr(1+i%4), uint64(i))
	}
	d := newDifferential(f)
	f.Fuzz(func(t *testing.T, src string, seed uint64) {
		if len(src) > 2000 {
			return
		}
		if msg := d.checkBoth(src, seed, 4); msg != "" {
			t.Fatal(msg)
		}
	})
}

// FuzzCompileExpr feeds arbitrary text through the compile path of both environments and
// evaluates what compiles: nothing may panic.
func FuzzCompileExpr(f *testing.F) {
	for _, s := range seedExprs {
		f.Add(s)
	}
	for _, s := range []string{"", "e.", "e.amount >", "match.", "((((", "'\\xff'", "e.amount in {1: 2}",
		"[1,2,3].map(x, [x, x].map(y, y)).size() > 0", "geo_km(1.0, 2.0, 3.0, 4.0) > 1.0", "b'abc' == b'abc'",
		"type(e) == map", "e.ts + duration('1h') > e.ts", "dyn(e.amount) == 1", "e.amount > 1 ? 'a' : 2"} {
		f.Add(s)
	}
	d := newDifferential(f)
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4000 {
			return
		}
		r := rand.New(rand.NewPCG(uint64(len(src)), 7))
		for _, c := range []struct {
			env *Env
			ev  *event.Event
		}{{d.typed, randomEvent(r, d.typedS, true)}, {d.dyn, randomEvent(r, d.dynS, false)}} {
			for _, role := range []exprRole{roleWhere, roleEmit} {
				x, errs := c.env.compileExpr(src, patterns.Src{Pos: patterns.Pos{Line: 3, Col: 5}, Indent: 3}, "f.yaml", role, map[string]bool{"a": true})
				if errs != nil {
					for _, e := range errs {
						if e.Pos.Line < 3 || e.Msg == "" {
							t.Fatalf("bad error position or message: %+v", e)
						}
					}
					continue
				}
				if role == roleEmit {
					m := nfa.Match{Steps: []nfa.StepEvents{{Step: "a", Events: []*event.Event{c.ev}}}}
					evalEmit(x, &m, c.ev, nil)
					continue
				}
				cond := &condition{x: x, slot: -1, stats: &ruleStats{}, label: "fuzz"}
				cond.Eval(&nfa.EvalContext{Event: c.ev})
			}
		}
	})
}
