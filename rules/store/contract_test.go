package store_test

import (
	"testing"

	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/rules/store/storetest"
)

// openDir opens the directory store in dir with the default options.
func openDir(t *testing.T, dir string) *store.Dir {
	t.Helper()
	d, err := store.OpenDir(dir, store.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDirContract runs the Store contract suite against the directory store.
func TestDirContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openDir(t, t.TempDir())
	})
}

// TestDirDataContract runs the DataStore contract suite against the directory store.
func TestDirDataContract(t *testing.T) {
	storetest.RunData(t, func(t *testing.T) store.DataStore {
		return openDir(t, t.TempDir())
	})
}

// TestDirSchemaContract runs the SchemaStore contract against the directory store, and
// checks that its schema file follows the store and that an edit on disk is a version.
func TestDirSchemaContract(t *testing.T) {
	storetest.RunSchema(t, func(t *testing.T) (store.SchemaStore, store.Store) {
		d := openDir(t, t.TempDir())
		return d, d
	})
}
