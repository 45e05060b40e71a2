package rules

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

func parseRule(t *testing.T, file, text string) *patterns.Rule {
	t.Helper()
	r, err := patterns.Parse(file, []byte(text))
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return r
}

// compileRule parses text as file and compiles it against env and reg, failing the test
// on any error.
func compileRule(t *testing.T, env *Env, reg *Registry, file, text string) *Compiled {
	t.Helper()
	c, err := Compile(parseRule(t, file, text), env, reg)
	if err != nil {
		t.Fatalf("compile %s: %v", file, err)
	}
	return c
}

const badRule = `id: bad
pattern:
  - name: a
    where: e.amout > 1.0
  - name: b
    where: e.country
  - name: c
    where: |
      e.amount > 1.0 &&
        e.country == 1
    times: 2+
    until: "match.zz.size() > 1"
  - name: d
    where: match.a.exists(x, match.c.exists(y, x.country.contains(y.country)))
emit:
  total: e.nope + 1
`

func TestCompileErrors(t *testing.T) {
	env := testEnv(t)
	r := parseRule(t, "bad.yaml", badRule)
	_, err := Compile(r, env, NewRegistry(), WithSource([]byte(badRule)))
	var el patterns.ErrorList
	if !errors.As(err, &el) {
		t.Fatalf("error %v is not an ErrorList", err)
	}
	want := []string{
		"bad.yaml:4:13: where: undefined field 'amout': the event has no such field",
		"bad.yaml:6:12: where must be a true/false condition, this expression is a string",
		"bad.yaml:10:19: where: type mismatch: e.country is a string; 1 is an int (== compares values of one type)",
		"bad.yaml:12:13: until: match.zz: this rule has no step named \"zz\" (its steps: a, b, c, d)",
		"bad.yaml:14:12: where is too costly: its worst-case cost is",
		"bad.yaml:16:11: emit total: undefined field 'nope'",
	}
	if len(el) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(el), len(want), err)
	}
	for i, w := range want {
		if got := el[i].Error(); !strings.HasPrefix(got, w) {
			t.Errorf("error %d:\n got %s\nwant %s…", i, got, w)
		}
	}
	// The source line and a caret are shown.
	if got := el[0].Error(); !strings.Contains(got, "\n        where: e.amout > 1.0\n                ^") {
		t.Errorf("no caret display:\n%s", got)
	}
}

const goodRule = `id: card-testing
severity: high
within: 30m
pattern:
  - name: small
    where: e.amount < 2.0 && e.country != 'US'
    times: 3+
    until: e.amount > 100.0
  - name: large
    where: e.amount > 500.0 && sum(match.small.map(x, x.amount)) < 10.0
emit:
  total: sum(match.small.map(x, x.amount)) + e.amount
  first_country: first(match.small).country
  bad: e.device
  n: size(match.small)
`

func TestCompileAndEmit(t *testing.T) {
	env := testEnv(t)
	reg := NewRegistry()
	c := compileRule(t, env, reg, "good.yaml", goodRule)
	if c.Program == nil || c.Version == "" || len(c.Fingerprint()) != 64 {
		t.Fatalf("incomplete: %+v", c)
	}
	wantExplain := `small where: e.amount < 2.0 && e.country != "US" [closure, memo 0, cost 6]
small until: e.amount > 100.0 [closure, memo 1, cost 3]
large where: e.amount > 500.0 && sum(match.small.map(x, x.amount)) < 10.0 [closure, memo -, cost 15018]
emit total: sum(match.small.map(x, x.amount)) + e.amount [cost 15017]
emit first_country: first(match.small).country [cost 5]
emit bad: e.device [cost 2]
emit n: size(match.small) [cost 3]
`
	if got := c.Explain(); got != wantExplain {
		t.Errorf("Explain:\n%s\nwant:\n%s", got, wantExplain)
	}
	s := env.Schema()
	tx := func(amount, country string) *event.Event {
		return decode(t, s, `{"card_id":"c","txn_id":"1","ts":"2024-05-01T10:00:00Z","amount":`+amount+`,"count":1,"country":"`+country+`","mcc":"1","vip":false}`)
	}
	m := nfa.Match{Steps: []nfa.StepEvents{
		{Step: "small", Events: []*event.Event{tx("1.0", "FR"), tx("1.5", "DE")}},
		{Step: "large", Events: []*event.Event{tx("600", "FR")}},
	}}
	got := c.EmitValues(m, m.Steps[1].Events[0])
	want := []EmitValue{
		{Name: "total", Value: 602.5},
		{Name: "first_country", Value: "FR"},
		{Name: "bad", Err: "no such key: device"},
		{Name: "n", Value: int64(2)},
	}
	if len(got) != len(want) {
		t.Fatalf("EmitValues = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("emit %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestFingerprint(t *testing.T) {
	env := testEnv(t)
	fp := func(text string) (string, string) {
		c := compileRule(t, env, nil, "r.yaml", text)
		return c.Fingerprint(), c.Version
	}
	base, baseVer := fp(goodRule)
	same := []string{
		strings.Replace(goodRule, "severity: high", "severity: low\nowner: someone\ndescription: words\ntags: [x]", 1),
		strings.Replace(goodRule, "id: card-testing", "id: card-testing\nname: Another name", 1),
		strings.Replace(goodRule, "e.amount < 2.0 && e.country != 'US'", "e.amount<2.0&&e.country!=\"US\"", 1),
		strings.Replace(goodRule, "  n: size(match.small)\n", "", 1),
	}
	for i, text := range same {
		if got, _ := fp(text); got != base {
			t.Errorf("same %d: fingerprint changed", i)
		}
	}
	different := []string{
		strings.Replace(goodRule, "within: 30m", "within: 31m", 1),
		strings.Replace(goodRule, "times: 3+", "times: 4+", 1),
		strings.Replace(goodRule, "e.amount > 100.0", "e.amount > 101.0", 1),
		strings.Replace(goodRule, "within: 30m", "within: 30m\nskip: past_last_event", 1),
		strings.Replace(goodRule, "  - name: large\n", "  - name: large\n    contiguity: strict\n", 1),
		strings.Replace(goodRule, "within: 30m", "within: 30m\nkey: country", 1),
		strings.Replace(goodRule, "within: 30m", "within: 30m\nkey: mcc", 1),
	}
	for i, text := range different {
		if got, _ := fp(text); got == base {
			t.Errorf("different %d: fingerprint unchanged", i)
		}
	}
	if _, v := fp(strings.Replace(goodRule, "severity: high", "severity: low", 1)); v == baseVer {
		t.Error("version unchanged by a new severity")
	}
	if _, v := fp(strings.Replace(goodRule, "  n: size(match.small)\n", "", 1)); v == baseVer {
		t.Error("version unchanged by a removed emit")
	}
	if _, v := fp(strings.Replace(goodRule, "description", "description", 1)); v != baseVer {
		t.Error("version changed by nothing")
	}
}

func TestRegistrySharesConditions(t *testing.T) {
	env := testEnv(t)
	reg := NewRegistry()
	c1 := compileRule(t, env, reg, "r1.yaml", "id: r1\npattern:\n  - name: a\n    where: e.amount > 100.0\n  - name: b\n    where: e.country == 'FR'\n")
	c2 := compileRule(t, env, reg, "r2.yaml", "id: r2\npattern:\n  - name: x\n    where: e.country=='FR'\n  - name: y\n    where: e.amount > 100.0 && e.vip\n")
	if reg.Slots() != 3 {
		t.Errorf("%d slots, want 3", reg.Slots())
	}
	a, x := c1.conds[condKey{"b", nfa.CondWhere}], c2.conds[condKey{"x", nfa.CondWhere}]
	if a.slot != x.slot || a.x != x.x {
		t.Errorf("e.country == 'FR' not shared: slots %d %d", a.slot, x.slot)
	}
	// A shared condition is evaluated once per event: count evaluations through the
	// error counter of an expression that always fails.
	reg = NewRegistry()
	bad := "id: r%d\npattern:\n  - name: a\n    where: e.device == 'x'\n"
	var cs []*Compiled
	for i := range 3 {
		cs = append(cs, compileRule(t, env, reg, "r.yaml", strings.Replace(bad, "%d", string(rune('0'+i)), 1)))
	}
	memo := nfa.NewMemo(reg.Slots())
	ev := decode(t, env.Schema(), baseTxn)
	for range 5 {
		memo.Next()
		ctx := &nfa.EvalContext{Event: ev, Memo: memo}
		for _, c := range cs {
			if c.conds[condKey{"a", nfa.CondWhere}].Eval(ctx) {
				t.Fatal("true")
			}
		}
	}
	total := cs[0].EvalErrors() + cs[1].EvalErrors() + cs[2].EvalErrors()
	if total != 5 || cs[0].EvalErrors() != 5 {
		t.Errorf("errors %d/%d/%d, want 5/0/0", cs[0].EvalErrors(), cs[1].EvalErrors(), cs[2].EvalErrors())
	}
	if got := cs[0].LastEvalError(); got != "step a where: no such key: device" {
		t.Errorf("LastEvalError = %q", got)
	}
}

func TestRuntimeErrorsAreFalseAndCounted(t *testing.T) {
	env := testEnv(t)
	ev := decode(t, env.Schema(), baseTxn) // no device; count 3
	s := dynSchema(t, "id", "name", "price", "ts")
	dev := decode(t, s, `{"id": 1, "name": "a", "price": 2, "ts": 1}`)
	for _, tc := range []struct {
		env  *Env
		ev   *event.Event
		src  string
		mode evalMode
		msg  string
	}{
		{env, ev, "e.device == 'x'", modeClosure, "no such key: device"},
		{env, ev, "e.count / (e.count - 3) > 1", modeClosure, "division by zero"},
		{env, ev, "e.count % 0 == 1", modeClosure, "modulus by zero"},
		{env, ev, "e.device.matches('x+')", modeInterpreter, "no such key: device"},
		{env, ev, "e.extra.startsWith('x')", modeClosure, "no such overload"},
		{env, ev, "e.extra", modeClosure, "not true or false"},
		{env, ev, "e.count * 9223372036854775807 > 1", modeClosure, "overflow"},
		{env, ev, "int(e.device) > 1 && e.amount > 1.0", modeHybrid, "no such key: device"},
		{dynEnv(t), dev, "e.price > 1.0 && e.name + e.price == 'x'", modeHybrid, "no such overload"},
		{dynEnv(t), dev, "e.price", modeClosure, "not true or false"},
		{dynEnv(t), dev, "e.price.contains('x')", modeClosure, "no such overload"},
	} {
		c := compileCond(t, tc.env, tc.src)
		if c.x.mode != tc.mode {
			t.Errorf("%s: mode %s, want %s", tc.src, c.x.mode, tc.mode)
		}
		for range 3 {
			if c.Eval(matchCtx(tc.ev)) {
				t.Errorf("%s: true", tc.src)
			}
		}
		if n := c.stats.errs.Load(); n != 3 {
			t.Errorf("%s: %d errors, want 3", tc.src, n)
		}
		if p := c.stats.last.Load(); p == nil || !strings.Contains(*p, tc.msg) {
			t.Errorf("%s: last error %v, want %q", tc.src, p, tc.msg)
		}
	}
}

func TestRuntimeCostLimit(t *testing.T) {
	env, err := NewDynamicEnv(EnvOptions{RuntimeCostLimit: 500})
	if err != nil {
		t.Fatal(err)
	}
	s := dynSchema(t, "id", "price", "ts")
	var evs []*event.Event
	for range 300 {
		evs = append(evs, decode(t, s, `{"id": 1, "price": 1.0, "ts": 1}`))
	}
	x, errs := env.compileExpr("match.a.all(x, x.price > 0.0)", patterns.Src{}, "", roleWhere, nil)
	if errs != nil {
		t.Fatal(errs)
	}
	m := nfa.Match{Steps: []nfa.StepEvents{{Step: "a", Events: evs[:10]}}}
	if v, err := evalEmit(x, &m, evs[0], nil); err != nil || v != true {
		t.Fatalf("10 events: %v %v", v, err)
	}
	m.Steps[0].Events = evs
	if _, err := evalEmit(x, &m, evs[0], nil); err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Fatalf("300 events: err %v, want cost limit exceeded", err)
	}
}

func TestCompileUnknownKey(t *testing.T) {
	r := parseRule(t, "k.yaml", "id: k\nkey: nope\npattern:\n  - name: a\n    where: e.vip\n")
	_, err := Compile(r, testEnv(t), nil)
	if err == nil || !strings.Contains(err.Error(), `k.yaml:2:6: key: the events have no field "nope"`) {
		t.Fatalf("err %v", err)
	}
}

// TestCompileKey checks `key:` against the schema: a declared identifier field, written
// bare or as e.FIELD; the time field and measurements are refused.
func TestCompileKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"device", ""},
		{"e.device", ""},
		{"card_id", ""},
		{"txn_id", ""},
		{"devise", `k.yaml:2:6: key: the events have no field "devise"; did you mean device?`},
		{"e.nope", `k.yaml:2:6: key: the events have no field "nope"`},
		{"ts", `k.yaml:2:6: key: "ts" is the event-time field`},
		{"amount", `k.yaml:2:6: key: field "amount" is a double; a key must be a string or int field`},
		{"vip", `k.yaml:2:6: key: field "vip" is a bool`},
	} {
		r := parseRule(t, "k.yaml", "id: k\nkey: "+tc.key+"\npattern:\n  - name: a\n    where: e.vip\n")
		c, err := Compile(r, testEnv(t), nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("key %s: %v", tc.key, err)
		case tc.want == "" && c.Rule.KeyField() != strings.TrimPrefix(tc.key, "e."):
			t.Errorf("key %s: read as %q", tc.key, c.Rule.Key)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("key %s: err %v, want %s", tc.key, err, tc.want)
		}
	}
}

// TestConcurrentEval evaluates shared conditions from several goroutines (run with
// -race): compiled rules are read-only but for their atomic counters.
func TestConcurrentEval(t *testing.T) {
	env := testEnv(t)
	reg := NewRegistry()
	var cs []*Compiled
	for i, where := range []string{"e.amount > 100.0 && e.country != 'US'", "e.device == 'x'", "e.amount > 100.0 && e.country != 'US'", "e.count in [1, 2, 3] || e.lat > 1.0"} {
		cs = append(cs, compileRule(t, env, reg, "r.yaml", fmt.Sprintf("id: r%d\npattern:\n  - name: a\n    where: %s\n  - name: b\n    where: size(match.a) > 0 && e.device.contains('x')\n", i, where)))
	}
	ev := decode(t, env.Schema(), baseTxn)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			memo := nfa.NewMemo(reg.Slots())
			for range 1000 {
				memo.Next()
				ctx := &nfa.EvalContext{Event: ev, Memo: memo}
				for _, c := range cs {
					c.conds[condKey{"a", nfa.CondWhere}].Eval(ctx)
					c.conds[condKey{"b", nfa.CondWhere}].Eval(ctx)
				}
			}
		}()
	}
	wg.Wait()
	// e.device == 'x' fails once per event and goroutine (the memo), the b condition
	// never (size(match.a) > 0 is false, which absorbs the error).
	if n := cs[1].EvalErrors(); n != 4000 {
		t.Errorf("rule 1: %d errors, want 4000", n)
	}
}
