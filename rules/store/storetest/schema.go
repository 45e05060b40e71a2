package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cepd/cepd/rules/store"
)

// RunSchema runs the SchemaStore contract against a store made by open: a new store with
// no schema stored. audit, when not nil, is the same store's audit log (the schema's
// entries carry RuleID store.SchemaAuditID).
func RunSchema(t *testing.T, open func(t *testing.T) (store.SchemaStore, store.Store)) {
	t.Run("Versions", func(t *testing.T) { s, a := open(t); testSchemaVersions(t, s, a) })
	t.Run("Conflicts", func(t *testing.T) { s, _ := open(t); testSchemaConflicts(t, s) })
}

func schemaText(fields ...string) []byte {
	return []byte("key: k\ntime: t\nfields:\n  k: string\n  t: int\n" + strings.Join(fields, "") + "")
}

func testSchemaVersions(t *testing.T, s store.SchemaStore, audit store.Store) {
	ctx := context.Background()
	if _, err := s.GetSchema(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of a store with no schema: %v, want ErrNotFound", err)
	}
	if vs, err := s.SchemaVersions(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("versions of a store with no schema: %v, %v", vs, err)
	}
	texts := [][]byte{schemaText(), schemaText("  a: string?\n"), schemaText("  a: string?\n", "  b: double?\n")}
	for i, txt := range texts {
		v, err := s.PutSchema(ctx, txt, i, store.Change{Author: "ann", Comment: "step"})
		if err != nil {
			t.Fatalf("put version %d: %v", i+1, err)
		}
		if v.Version != i+1 || v.Author != "ann" || v.Comment != "step" || v.Time.IsZero() || string(v.Source) != string(txt) {
			t.Fatalf("put returned %+v", v)
		}
		cur, err := s.GetSchema(ctx)
		if err != nil || cur.Version != i+1 || string(cur.Source) != string(txt) {
			t.Fatalf("get after put %d: %+v, %v", i+1, cur, err)
		}
	}
	vs, err := s.SchemaVersions(ctx)
	if err != nil || len(vs) != len(texts) {
		t.Fatalf("versions: %d, %v", len(vs), err)
	}
	for i, v := range vs {
		if v.Version != i+1 || string(v.Source) != string(texts[i]) {
			t.Fatalf("version %d: %+v", i+1, v)
		}
	}
	if vs[0].Action != store.ActionCreate || vs[1].Action != store.ActionUpdate {
		t.Fatalf("actions %q %q, want create, update", vs[0].Action, vs[1].Action)
	}
	if audit == nil {
		return
	}
	es, err := audit.Audit(ctx, store.AuditFilter{RuleID: store.SchemaAuditID})
	if err != nil || len(es) != len(texts) {
		t.Fatalf("schema audit: %d entries, %v", len(es), err)
	}
	if es[0].Version != 3 || !strings.Contains(es[0].Diff, "+   b: double?") || es[0].Author != "ann" {
		t.Fatalf("newest audit entry %+v", es[0])
	}
}

// testSchemaConflicts: of concurrent puts from one version, exactly one wins; a put from
// a stale version is refused with ErrConflict and changes nothing.
func testSchemaConflicts(t *testing.T, s store.SchemaStore) {
	ctx := context.Background()
	if _, err := s.PutSchema(ctx, schemaText(), 0, store.Change{Author: "ann"}); err != nil {
		t.Fatal(err)
	}
	oneWins(t, 8, store.ErrConflict, "puts from version 1", func(i int) error {
		_, err := s.PutSchema(ctx, schemaText("  x"+strings.Repeat("y", i)+": string?\n"), 1, store.Change{Author: "bob"})
		return err
	})
	if _, err := s.PutSchema(ctx, schemaText(), 1, store.Change{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a stale put: %v", err)
	}
	if vs, err := s.SchemaVersions(ctx); err != nil || len(vs) != 2 {
		t.Fatalf("versions after the conflicts: %d, %v", len(vs), err)
	}
}
