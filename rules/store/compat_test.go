package store_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/cepd/cepd/internal/golden"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/rules/store/storetest"
)

// writeCompat rewrites the compatibility fixtures. They were written by the build of
// commit 7af2de1 (before Provenance): rewriting them with a later build would test that
// build against itself.
var writeCompat = flag.Bool("compat.write", false, "rewrite testdata/compat* with this build")

// TestDirReadsOldFormat: a rule directory written by an older build (testdata/compat-dir:
// versions, audit, schema and list histories, with empty comments, a rollback's default
// comment, an author longer than MaxComment in a rule's audit entry) reads back as that
// build read it (testdata/compat-dir.json).
func TestDirReadsOldFormat(t *testing.T) {
	fixture, want := filepath.Join("testdata", "compat-dir"), filepath.Join("testdata", "compat-dir.json")
	if *writeCompat {
		dir := t.TempDir()
		d, err := store.OpenDir(dir, store.DirOptions{Now: storetest.CompatClock()})
		if err != nil {
			t.Fatal(err)
		}
		storetest.FillCompat(t, d)
		if err := os.RemoveAll(fixture); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(fixture, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(fixture)); err != nil {
		t.Fatal(err)
	}
	d, err := store.OpenDir(dir, store.DirOptions{Now: storetest.CompatClock()})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, want, string(storetest.DumpCompat(t, d)), *writeCompat)
}
