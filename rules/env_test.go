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

func TestTypedEnvTypes(t *testing.T) {
	env := testEnv(t)
	for src, want := range map[string]string{
		"e.amount":                     "double",
		"e.count":                      "int",
		"e.country":                    "string",
		"e.vip":                        "bool",
		"e.ts":                         "google.protobuf.Timestamp",
		"e.extra":                      "dyn",
		"match.a":                      "list(cepd.Event)",
		"match['b*']":                  "list(cepd.Event)",
		"match.a.map(x, x.amount)":     "list(double)",
		"e.ts - e.ts":                  "google.protobuf.Duration",
		"sum(match.a.map(x, x.count))": "double",
		"max(match.a.map(x, x.count))": "int",
		"first(match.a)":               "cepd.Event",
	} {
		a, iss := env.cel.Compile(src)
		if iss.Err() != nil {
			t.Errorf("%s: %v", src, iss.Err())
			continue
		}
		if got := a.OutputType().String(); got != want {
			t.Errorf("%s: type %s, want %s", src, got, want)
		}
	}
}

func TestTypedEnvCompileErrors(t *testing.T) {
	env := testEnv(t)
	for src, want := range map[string]string{
		"e.amout > 1.0":    "1:2: where: undefined field 'amout': the event has no such field (fields: amount, card_id",
		"e.amount == 'x'":  "1:10: where: type mismatch: e.amount is a double; 'x' is a string (== compares values of one type)",
		"e.country":        "1:1: where must be a true/false condition, this expression is a string",
		"e.count + 1":      "1:1: where must be a true/false condition, this expression is an integer",
		"first(match.a)":   "1:1: where must be a true/false condition, this expression is an event",
		"e.amount >":       "1:11: where: syntax error: expected an expression after '>', found the end of the expression",
		"x > 1":            "1:1: where: x is not defined: a condition can use e (the event)",
		"e.vip && e.count": "1:11: where: type mismatch: e.count is an int, where a bool is needed",
	} {
		_, errs := env.compileExpr(src, patterns.Src{}, "", roleWhere, nil)
		if errs == nil {
			t.Errorf("%q compiled", src)
			continue
		}
		got := errs.Error()
		if !strings.Contains(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", src, got, want)
		}
	}
}

func TestCrossTypeNumeric(t *testing.T) {
	env := testEnv(t)
	ev := decode(t, env.Schema(), baseTxn) // amount 250.5, count 3
	for src, want := range map[string]bool{
		"e.amount > 100":         true,
		"e.amount < 100":         false,
		"100 < e.amount":         true,
		"e.count == 3":           true,
		"double(e.count) == 3.0": true,
		"e.count < 3.5":          true,
		"e.count >= 4.0":         false,
		"e.amount != 250.0":      true,
		"e.extra == 7.0":         true,
		"e.extra in [1, 7.0]":    true,
	} {
		if got, _ := evalBoth(t, env, src, matchCtx(ev)); got != want {
			t.Errorf("%s = %v, want %v", src, got, want)
		}
	}
}

func TestMissingFieldSemantics(t *testing.T) {
	env := testEnv(t)
	ev := decode(t, env.Schema(), baseTxn) // no device, no lat
	for _, tc := range []struct {
		src  string
		want bool
		errs uint64
	}{
		{"has(e.device)", false, 0},
		{"!has(e.device)", true, 0},
		{"e.device == 'x'", false, 1},
		{"e.device != 'x'", false, 1},
		{"false && e.device == 'x'", false, 0},
		{"e.device == 'x' && false", false, 0},
		{"true || e.device == 'x'", true, 0},
		{"e.device == 'x' || true", true, 0},
		{"e.device == 'x' || e.amount > 1.0", true, 0},
		{"has(e.device) && e.device == 'x'", false, 0},
		{"!has(e.device) || e.device == 'x'", true, 0},
		{"e.count / (e.count - 3) > 0", false, 1},
		{"e.lat > 1.0 ? true : false", false, 1},
	} {
		got, errs := evalBoth(t, env, tc.src, matchCtx(ev))
		if got != tc.want || errs != tc.errs {
			t.Errorf("%s = %v with %d errors, want %v with %d", tc.src, got, errs, tc.want, tc.errs)
		}
	}
}

func TestDynamicEnv(t *testing.T) {
	env := dynEnv(t)
	s := dynSchema(t, "id", "name", "price", "volume", "ts")
	sub := decode(t, s, `{"id": 2, "name": "foo1", "price": 1.0, "volume": 10.0, "ts": 2}`)
	plainEv := decode(t, s, `{"id": 1, "name": "start", "price": 2.0, "ts": 1}`)
	for _, tc := range []struct {
		src  string
		ev   *event.Event
		want bool
	}{
		{"has(e.volume)", sub, true},
		{"has(e.volume)", plainEv, false},
		{"has(e.volume) && e.volume > 5.0", plainEv, false},
		{"has(e.volume) && e.volume > 5.0", sub, true},
		{"e.name.startsWith('foo')", sub, true},
		{"e.name.contains('a')", plainEv, true},
		{"e.ts == 2", sub, true},
		{"e.price == 1", sub, true},
		{"e.name == 1", sub, false},
		{"e.price < 'x'", sub, false},
		{"e.volume > 1.0", plainEv, false},
		{"size(e) == 5", sub, true},
		{"'volume' in e", plainEv, false},
	} {
		if got, _ := evalBoth(t, env, tc.src, matchCtx(tc.ev)); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.src, got, tc.want)
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
