package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cepd/cepd/alerts"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/testfile"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/store"
)

const schemaV1 = `key: card
time: ts
id: id
fields:
  id: string
  card: string
  ts: int
  amount: double
  country: string?
`

type discard struct{}

func (discard) Alert(*alerts.Alert)          {}
func (discard) DeadLetter(engine.DeadLetter) {}

// schemaService is a Schema service over a rule directory with two rules, running an
// engine.
func schemaService(t *testing.T) (*Schema, *store.Dir, string, *engine.Engine) {
	t.Helper()
	return schemaServiceWith(t, discard{})
}

// schemaServiceWith is schemaService with the engine's alerts going to sink.
func schemaServiceWith(t *testing.T, sink alerts.Sink) (*Schema, *store.Dir, string, *engine.Engine) {
	t.Helper()
	dir := t.TempDir()
	write := testfile.Writer(t, dir)
	write("schema.yaml", schemaV1)
	write("big.yaml", "id: big\npattern:\n  - name: a\n    where: e.amount > 100.0\n")
	write("geo.yaml", "id: geo\npattern:\n  - name: a\n    where: has(e.country) && e.country == 'FR'\n")
	st, err := store.OpenDir(dir, store.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start, err := event.ParseSchema([]byte(schemaV1))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRules(st, nil, start, rules.EnvOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rs, err := r.RuleSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Shards: 1}, rs, sink, discard{})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start(ctx)
	t.Cleanup(eng.Close)
	r.Attach(eng)
	return &Schema{Rules: r}, st, dir, eng
}

// TestPutSchema: an optional field added through the API is stored and runs (the engine
// and a rule using it); a change that removes and retypes fields is refused with
// FailedPrecondition naming every problem and every rule it breaks, and changes nothing.
func TestPutSchema(t *testing.T) {
	s, st, dir, eng := schemaService(t)
	ctx := context.Background()
	got, err := s.GetSchema(ctx, &cepv1.GetSchemaRequest{})
	if err != nil || got.Version != 1 || got.Key != "card" || len(got.Fields) != 5 {
		t.Fatalf("get: %v, %v", got, err)
	}
	wider := schemaV1 + "  device: string?\n"
	put, err := s.PutSchema(ctx, &cepv1.PutSchemaRequest{Source: wider, Comment: "device"})
	if err != nil || put.Version != 2 || len(put.Fields) != 6 || put.Fields[5].Name != "device" || !put.Fields[5].Optional {
		t.Fatalf("put: %v, %v", put, err)
	}
	if n := len(eng.Rules().Schema.Fields); n != 6 {
		t.Fatalf("the engine runs a schema of %d fields, want 6", n)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "schema.yaml")); string(b) != wider {
		t.Fatalf("schema.yaml:\n%s", b)
	}
	// a rule reading the new field can now be created
	if _, err := s.Rules.CreateRule(ctx, &cepv1.CreateRuleRequest{Source: "id: dev\npattern:\n  - name: a\n    where: has(e.device) && e.device == 'x'\n"}); err != nil {
		t.Fatal(err)
	}

	bad := strings.Replace(strings.Replace(wider, "  country: string?\n", "", 1), "amount: double", "amount: string", 1)
	_, err = s.PutSchema(ctx, &cepv1.PutSchemaRequest{Source: bad})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("incompatible put: %v", err)
	}
	t.Logf("refused: %s", status.Convert(err).Message())
	for _, want := range []string{`field "amount" changes type from double to string`, `field "country" is removed`, "rule big:", "rule geo:", "device"} {
		if !strings.Contains(status.Convert(err).Message(), want) {
			t.Errorf("the refusal does not say %q:\n%s", want, status.Convert(err).Message())
		}
	}
	if strings.Contains(status.Convert(err).Message(), "rule dev:") {
		t.Errorf("the refusal names a rule it does not break:\n%s", status.Convert(err).Message())
	}
	if vs, _ := st.SchemaVersions(ctx); len(vs) != 2 || len(eng.Rules().Schema.Fields) != 6 {
		t.Fatalf("a refused change changed something: %d versions, %d fields running", len(vs), len(eng.Rules().Schema.Fields))
	}
	if _, err := s.PutSchema(ctx, &cepv1.PutSchemaRequest{Source: wider + "  ip: string?\n", ExpectVersion: 1}); status.Code(err) != codes.Aborted {
		t.Fatalf("a put from a stale version: %v", err)
	}
	if _, err := s.PutSchema(ctx, &cepv1.PutSchemaRequest{Source: "key: [\n"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a put of text that is not a schema: %v", err)
	}
}

// TestSchemaReloadFromDisk: schema.yaml edited on disk is taken by a reload (the
// watcher's Refresh then Reload) when compatible; an incompatible edit is refused by the
// reload, which keeps the running schema and rules.
func TestSchemaReloadFromDisk(t *testing.T) {
	s, st, dir, eng := schemaService(t)
	ctx := context.Background()
	edit := func(text string) error {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "schema.yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		return s.Rules.Reload(ctx)
	}
	if err := edit(schemaV1 + "  mcc: string?\n"); err != nil {
		t.Fatalf("a compatible edit: %v", err)
	}
	if got, _ := s.GetSchema(ctx, &cepv1.GetSchemaRequest{}); got.Version != 2 || got.Action != store.ActionDisk || len(eng.Rules().Schema.Fields) != 6 {
		t.Fatalf("after the edit: %v", got)
	}
	err := edit(strings.Replace(schemaV1, "key: card", "key: id", 1))
	if err == nil || !strings.Contains(err.Error(), `the key field changes from "card" to "id"`) {
		t.Fatalf("an incompatible edit: %v", err)
	}
	if sch, _ := s.Rules.SchemaVersion(); sch.KeyField != "card" || len(sch.Fields) != 6 || eng.Rules().Schema != sch {
		t.Fatal("an incompatible edit changed the running schema")
	}
}
