package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cepd/cepd/rules/store"
)

// TestDirSchemaFile: the schema file found at open is version 1; a put rewrites the file
// (what cepd loads at start); an edit on disk becomes a version at Refresh, once.
func TestDirSchemaFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "schema.yaml")
	v1 := "key: k\ntime: t\nfields:\n  k: string\n  t: int\n"
	if err := os.WriteFile(path, []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	d := openDir(t, dir)
	cur, err := d.GetSchema(ctx)
	if err != nil || cur.Version != 1 || string(cur.Source) != v1 || cur.Action != store.ActionCreate {
		t.Fatalf("schema at open: %+v, %v", cur, err)
	}
	v2 := v1 + "  a: string?\n"
	if _, err := d.PutSchema(ctx, []byte(v2), 1, store.Change{Author: "ann"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != v2 {
		t.Fatalf("schema file after put:\n%s", b)
	}
	if changed, err := d.Refresh(ctx); err != nil || changed {
		t.Fatalf("refresh after a put: %v, %v", changed, err)
	}
	v3 := v2 + "  b: int?\n"
	if err := os.WriteFile(path, []byte(v3), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := d.Refresh(ctx); err != nil || !changed {
		t.Fatalf("refresh after an edit: %v, %v", changed, err)
	}
	if changed, _ := d.Refresh(ctx); changed {
		t.Fatal("the same edit recorded twice")
	}
	cur, err = d.GetSchema(ctx)
	if err != nil || cur.Version != 3 || string(cur.Source) != v3 || cur.Action != store.ActionDisk || cur.Author != "disk" {
		t.Fatalf("schema after the edit: %+v, %v", cur, err)
	}
	// reopened, the history is kept
	d2 := openDir(t, dir)
	if vs, err := d2.SchemaVersions(ctx); err != nil || len(vs) != 3 {
		t.Fatalf("versions after reopening: %d, %v", len(vs), err)
	}
}
