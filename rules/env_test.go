package rules

import (
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

// evalBoth evaluates a condition through Eval and, separately, the interpreter, and fails
// if they disagree.
func evalBoth(t *testing.T, env *Env, src string, ctx *nfa.EvalContext) (bool, uint64) {
	t.Helper()
	c := compileCond(t, env, src)
	got := c.Eval(ctx)
	v, err := c.x.interpret(ctx)
	want := err == nil && v == types.True
	if got != want {
		t.Errorf("%q: Eval = %v, interpreter = %v (%v)", src, got, v, err)
	}
	return got, c.stats.errs.Load()
}

// TestTypedEnvCompile: in the environment typed by the schema an expression has the CEL
// type typ, and as a condition (where) it fails with an error containing err (either
// unchecked when empty).
func TestTypedEnvCompile(t *testing.T) {
	env := testEnv(t)
	for _, tc := range []struct{ src, typ, err string }{
		{"e.amount", "double", ""},
		{"e.count", "int", ""},
		{"e.country", "string", "1:1: where must be a true/false condition, this expression is a string"},
		{"e.vip", "bool", ""},
		{"e.ts", "google.protobuf.Timestamp", ""},
		{"e.extra", "dyn", ""},
		{"match.a", "list(cepd.Event)", ""},
		{"match['b*']", "list(cepd.Event)", ""},
		{"match.a.map(x, x.amount)", "list(double)", ""},
		{"e.ts - e.ts", "google.protobuf.Duration", ""},
		{"sum(match.a.map(x, x.count))", "double", ""},
		{"max(match.a.map(x, x.count))", "int", ""},
		{"first(match.a)", "cepd.Event", "1:1: where must be a true/false condition, this expression is an event"},
		{"e.amout > 1.0", "", "1:2: where: undefined field 'amout': the event has no such field (fields: amount, card_id"},
		{"e.amount == 'x'", "", "1:10: where: type mismatch: e.amount is a double; 'x' is a string (== compares values of one type)"},
		{"e.count + 1", "", "1:1: where must be a true/false condition, this expression is an integer"},
		{"e.amount >", "", "1:11: where: syntax error: expected an expression after '>', found the end of the expression"},
		{"x > 1", "", "1:1: where: x is not defined: a condition can use e (the event)"},
		{"e.vip && e.count", "", "1:11: where: type mismatch: e.count is an int, where a bool is needed"},
	} {
		if tc.typ != "" {
			a, iss := env.cel.Compile(tc.src)
			if iss.Err() != nil {
				t.Errorf("%s: %v", tc.src, iss.Err())
			} else if got := a.OutputType().String(); got != tc.typ {
				t.Errorf("%s: type %s, want %s", tc.src, got, tc.typ)
			}
		}
		if tc.err != "" {
			_, errs := env.compileExpr(tc.src, patterns.Src{}, "", roleWhere, nil)
			if errs == nil {
				t.Errorf("%q compiled", tc.src)
			} else if got := errs.Error(); !strings.Contains(got, tc.err) {
				t.Errorf("%q:\n got %s\nwant %s", tc.src, got, tc.err)
			}
		}
	}
}

// TestEvalSemantics: conditions give the same result through Eval and the interpreter
// (evalBoth), and the errors counted, for numbers compared across types, missing fields
// (has(), errors && and || absorb) and the dynamic environment.
func TestEvalSemantics(t *testing.T) {
	typed, dyn := testEnv(t), dynEnv(t)
	txn := decode(t, typed.Schema(), baseTxn) // amount 250.5, count 3, no device, no lat
	s := dynSchema(t, "id", "name", "price", "volume", "ts")
	sub := decode(t, s, `{"id": 2, "name": "foo1", "price": 1.0, "volume": 10.0, "ts": 2}`)
	plainEv := decode(t, s, `{"id": 1, "name": "start", "price": 2.0, "ts": 1}`)
	envOf := map[*event.Schema]*Env{txn.Schema: typed, s: dyn} // by the event's schema
	for _, tc := range []struct {
		ev   *event.Event
		src  string
		want bool
		errs uint64 // errors counted
	}{
		{txn, "e.amount > 100", true, 0},
		{txn, "e.amount < 100", false, 0},
		{txn, "100 < e.amount", true, 0},
		{txn, "e.count == 3", true, 0},
		{txn, "double(e.count) == 3.0", true, 0},
		{txn, "e.count < 3.5", true, 0},
		{txn, "e.count >= 4.0", false, 0},
		{txn, "e.amount != 250.0", true, 0},
		{txn, "e.extra == 7.0", true, 0},
		{txn, "e.extra in [1, 7.0]", true, 0},
		{txn, "has(e.device)", false, 0},
		{txn, "!has(e.device)", true, 0},
		{txn, "e.device == 'x'", false, 1},
		{txn, "e.device != 'x'", false, 1},
		{txn, "false && e.device == 'x'", false, 0},
		{txn, "e.device == 'x' && false", false, 0},
		{txn, "true || e.device == 'x'", true, 0},
		{txn, "e.device == 'x' || true", true, 0},
		{txn, "e.device == 'x' || e.amount > 1.0", true, 0},
		{txn, "has(e.device) && e.device == 'x'", false, 0},
		{txn, "!has(e.device) || e.device == 'x'", true, 0},
		{txn, "e.count / (e.count - 3) > 0", false, 1},
		{txn, "e.lat > 1.0 ? true : false", false, 1},
		{sub, "has(e.volume)", true, 0},
		{plainEv, "has(e.volume)", false, 0},
		{plainEv, "has(e.volume) && e.volume > 5.0", false, 0},
		{sub, "has(e.volume) && e.volume > 5.0", true, 0},
		{sub, "e.name.startsWith('foo')", true, 0},
		{plainEv, "e.name.contains('a')", true, 0},
		{sub, "e.ts == 2", true, 0},
		{sub, "e.price == 1", true, 0},
		{sub, "e.name == 1", false, 0},
		{sub, "e.price < 'x'", false, 1},
		{plainEv, "e.volume > 1.0", false, 1},
		{sub, "size(e) == 5", true, 0},
		{plainEv, "'volume' in e", false, 0},
	} {
		got, errs := evalBoth(t, envOf[tc.ev.Schema], tc.src, matchCtx(tc.ev))
		if got != tc.want || errs != tc.errs {
			t.Errorf("%s = %v with %d errors, want %v with %d", tc.src, got, errs, tc.want, tc.errs)
		}
	}
}

// partialMatch builds an EvalContext whose partial match is given per step. It uses an
// emit-style match source, since a real EvalContext needs a running matcher.
func evalWithMatch(t *testing.T, env *Env, src string, ev *event.Event, m nfa.Match) (any, error) {
	t.Helper()
	x, errs := env.compileExpr(src, patterns.Src{}, "", roleEmit, nil)
	if errs != nil {
		t.Fatalf("%s: %v", src, errs)
	}
	steps := map[string]bool{}
	for _, s := range m.Steps {
		steps[s.Step] = true
	}
	return evalEmit(x, &m, ev, steps)
}

func TestMatchBinding(t *testing.T) {
	env := dynEnv(t)
	s := dynSchema(t, "id", "name", "price", "volume", "ts")
	evs := []*event.Event{
		decode(t, s, `{"id": 1, "name": "foo1", "price": 1.0, "volume": 10.0, "ts": 1}`),
		decode(t, s, `{"id": 2, "name": "foo2", "price": 2.0, "volume": 10.0, "ts": 2}`),
		decode(t, s, `{"id": 3, "name": "x", "price": 0.5, "ts": 3}`),
	}
	m := nfa.Match{Steps: []nfa.StepEvents{{Step: "middle", Events: evs[:2]}, {Step: "b*", Events: nil}}}
	for src, want := range map[string]any{
		"sum(match.middle.map(x, x.price)) + e.price < 5.0": true,
		"sum(match.middle.map(x, x.price)) + e.price":       3.5,
		"size(match['b*'])":                     int64(0),
		"match.middle[1].name":                  "foo2",
		"match.middle.exists(x, has(x.volume))": true,
		"match.middle.all(x, x.price < 2.0)":    false,
		"count(match.middle)":                   int64(2),
		"last(match.middle).id":                 int64(2),
	} {
		got, err := evalWithMatch(t, env, src, evs[2], m)
		if err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", src, got, err, want)
		}
	}
	if _, err := evalWithMatch(t, env, "size(match.nope) == 0", evs[2], m); err == nil || !strings.Contains(err.Error(), "no such key") {
		t.Errorf("match.nope: err %v, want no such key", err)
	}
	typed := testEnv(t)
	ts := typed.Schema()
	a := decode(t, ts, `{"card_id":"c","txn_id":"1","ts":"2024-05-01T10:00:00Z","amount":1,"count":1,"country":"FR","mcc":"1","vip":false}`)
	b := decode(t, ts, `{"card_id":"c","txn_id":"2","ts":"2024-05-01T10:20:00Z","amount":2,"count":1,"country":"FR","mcc":"1","vip":false}`)
	tm := nfa.Match{Steps: []nfa.StepEvents{{Step: "a", Events: []*event.Event{a}}}}
	for src, want := range map[string]any{
		"e.ts - first(match.a).ts < duration('30m')": true,
		"e.ts - first(match.a).ts":                   "1200s",
		"minutes_between(first(match.a).ts, e.ts)":   20.0,
		"match.a.map(x, x.amount)":                   []any{1.0},
		"first(match.a).txn_id":                      "1",
	} {
		got, err := evalWithMatch(t, typed, src, b, tm)
		if err != nil || !equalPlain(got, want) {
			t.Errorf("%s = %#v (%v), want %#v", src, got, err, want)
		}
	}
}

func equalPlain(a, b any) bool {
	al, ok1 := a.([]any)
	bl, ok2 := b.([]any)
	if ok1 && ok2 {
		if len(al) != len(bl) {
			return false
		}
		for i := range al {
			if !equalPlain(al[i], bl[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
