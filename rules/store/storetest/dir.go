package storetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
)

// DirWithData opens a directory store (store.OpenDir) on a new directory whose data
// directory (refdata.DirName) holds one file, name, with text: a rules directory with a
// list or table, for tests that edit or remove the file. It returns the store, the
// directory and the file's path.
func DirWithData(t testing.TB, name, text string) (ds *store.Dir, dir, file string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, refdata.DirName), 0o755); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, refdata.DirName, name)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := store.OpenDir(dir, store.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds, dir, file
}
