package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
)

// TestListsRemovedOnDiskStayWhileRead: a list file removed on disk is recorded as a
// deletion, but while a running rule reads the list it stays loaded (and the reload says
// why); once no rule reads it, it is dropped.
func TestListsRemovedOnDiskStayWhileRead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, refdata.DirName), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, refdata.DirName, "ips.block.csv")
	if err := os.WriteFile(file, []byte("ip\n10.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := store.OpenDir(dir, store.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.RefreshData(ctx); err != nil {
		t.Fatal(err)
	}
	l := NewLists(ds, refdata.NewHolder(nil))
	readers := map[string][]string{"ips": {"r1"}}
	l.Readers = func() map[string][]string { return readers }
	if err := l.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.RefreshData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(ctx); err == nil || !strings.Contains(err.Error(), "ips (read by r1)") {
		t.Fatalf("reload: %v", err)
	}
	if d, ok := l.Holder().Load().Get("ips"); !ok || !d.Has("10.0.0.1") {
		t.Fatal("a list running rules read was dropped")
	}
	readers = nil
	if err := l.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Holder().Load().Get("ips"); ok {
		t.Fatal("a list no rule reads stayed loaded after its deletion")
	}
}
