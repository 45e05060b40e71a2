package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store/storetest"
)

// TestRefDataFilesReload: an edit of DIR/data/*.csv changes the rules directory's
// fingerprint (so serve's watcher reloads), and the reload records it as a version and
// swaps the list a compiled rule reads, whose alerts then name the new version.
func TestRefDataFilesReload(t *testing.T) {
	ctx := context.Background()
	ds, dir, list := storetest.DirWithData(t, "merchant_watch.watch.csv", "merchant_id\nm1\n")
	lists, err := openLists(ctx, ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	schema := fraudtest.Schema(t)
	env, err := rules.NewEnv(schema, rules.EnvOptions{Data: lists.Holder()})
	if err != nil {
		t.Fatal(err)
	}
	c, errs := rules.CompileSource("r.yaml", []byte("id: r\npattern:\n  - name: a\n    where: in_list('merchant_watch', e.merchant_id)\n"), "", env, rules.NewRegistry())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if v := c.DataVersions()[0]; v.Version != 1 {
		t.Fatalf("loaded %+v, want version 1", v)
	}
	fp := dirFingerprint(dir)
	if err := os.WriteFile(list, []byte("merchant_id\nm1\nm2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if dirFingerprint(dir) == fp {
		t.Fatal("editing a list file leaves the directory's fingerprint unchanged: no reload")
	}
	reload := func() error { // what serve's watcher does after the rules' Refresh
		if _, err := ds.RefreshData(ctx); err != nil {
			return err
		}
		return lists.Reload(ctx)
	}
	if err := reload(); err != nil {
		t.Fatal(err)
	}
	if d, _ := lists.Holder().Load().Get("merchant_watch"); !d.Has("m2") || c.DataVersions()[0].Version != 2 {
		t.Fatalf("the reload did not swap the list in: %+v", c.DataVersions())
	}
	// A file that does not parse changes nothing.
	if err := os.WriteFile(filepath.Join(dir, refdata.DirName, "bad.table.csv"), []byte("k,n:int\na,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err == nil {
		t.Fatal("a bad table was loaded")
	}
	if d, _ := lists.Holder().Load().Get("merchant_watch"); !d.Has("m2") {
		t.Fatal("a failed reload lost the loaded list")
	}
}
