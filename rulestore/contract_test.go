package rulestore_test

import (
	"testing"

	"github.com/cepd/cepd/rulestore"
	"github.com/cepd/cepd/rulestore/storetest"
)

// TestDirContract runs the Store contract suite against the directory store.
func TestDirContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) rulestore.Store {
		d, err := rulestore.OpenDir(t.TempDir(), rulestore.DirOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}
