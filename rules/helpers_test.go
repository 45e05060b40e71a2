package rules

import (
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

const testSchemaYAML = `name: card_transaction
key: card_id
time: ts
id: txn_id
fields:
  card_id: string
  txn_id: string
  ts: timestamp
  amount: double
  count: int
  country: string
  mcc: string
  vip: bool
  device: string?
  lat: double?
  lon: double?
`

// testSchema is testSchemaYAML plus a field of type any (which schema files cannot
// declare; inferred schemas have them).
func testSchema(t testing.TB) *event.Schema {
	t.Helper()
	s, err := event.ParseSchema([]byte(testSchemaYAML))
	if err != nil {
		t.Fatal(err)
	}
	fields := append(append([]event.Field(nil), s.Fields...), event.Field{Name: "extra", Type: event.TypeAny})
	s, err = event.NewSchema(s.Name, fields, s.KeyField, s.TimeField, s.IDField)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testEnv(t testing.TB) *Env {
	t.Helper()
	env, err := NewEnv(testSchema(t), EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func dynEnv(t testing.TB) *Env {
	t.Helper()
	env, err := NewDynamicEnv()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// decode builds an event of s from JSON.
func decode(t testing.TB, s *event.Schema, js string) *event.Event {
	t.Helper()
	ev := &event.Event{}
	if err := jsondecode.NewDecoder(s).Decode([]byte(js), ev); err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return ev
}

// dynSchema is the schema of conformance-style events: every field is of type any.
func dynSchema(t testing.TB, names ...string) *event.Schema {
	t.Helper()
	fields := make([]event.Field, len(names))
	for i, n := range names {
		fields[i] = event.Field{Name: n, Type: event.TypeAny}
	}
	s, err := event.NewSchema("dyn", fields, names[0], "ts", "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var baseTxn = `{"card_id":"c1","txn_id":"t1","ts":"2024-05-01T10:00:00Z","amount":250.5,"count":3,"country":"FR","mcc":"5967","vip":false,"extra":7}`

// compileCond compiles one where expression outside of any rule.
func compileCond(t testing.TB, env *Env, text string) *condition {
	t.Helper()
	x, errs := env.compileExpr(text, patterns.Src{}, "", roleWhere, nil)
	if errs != nil {
		t.Fatalf("compile %q: %v", text, errs)
	}
	return &condition{x: x, slot: -1, stats: &ruleStats{}, label: "test"}
}

// matchCtx is an EvalContext for ev with no partial match.
func matchCtx(ev *event.Event) *nfa.EvalContext { return &nfa.EvalContext{Event: ev} }
