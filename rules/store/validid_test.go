package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cepd/cepd/patterns"
)

// TestValidIDIsTheRuleCompilers: the store accepts exactly the ids a rule may carry. It
// allowed 128 characters while a rule's id may have 64: a rule saved under a longer id
// could never compile.
func TestValidIDIsTheRuleCompilers(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"card-testing", true},
		{"a", true},
		{strings.Repeat("a", patterns.MaxIDLength), true},
		{strings.Repeat("a", patterns.MaxIDLength+1), false},
		{"", false},
		{"-x", false},
		{"Card", false},
		{"../x", false},
	} {
		if got := ValidID(c.id); got != c.want {
			t.Errorf("ValidID(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}

// TestStoredLongIDs: a rule stored under an id longer than a rule may carry (the store
// took up to 128 characters before session 9: from a rule file on disk) is still read,
// listed and deleted, and its file on disk stays the rule's; only Create keeps to ValidID.
// Before, the history under such an id was skipped on load and the file on disk ignored:
// the rule vanished from the listing and could be neither read nor deleted, its history
// and file left behind.
func TestStoredLongIDs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	id := strings.Repeat("a", 100)
	if !StoredID(id) || ValidID(id) || StoredID(strings.Repeat("a", 129)) || StoredID("../x") {
		t.Fatal("StoredID: want ids of up to 128 characters of a rule id's alphabet")
	}
	if err := os.WriteFile(filepath.Join(dir, "long.yaml"), []byte("id: "+id+"\nname: long\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir, DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// Opened again: the version is read back from its history.
	if d, err = OpenDir(dir, DirOptions{}); err != nil {
		t.Fatal(err)
	}
	if changed, err := d.Refresh(ctx); err != nil || changed {
		t.Fatalf("Refresh of an unchanged directory: changed %v, %v", changed, err)
	}
	if vs, err := d.List(ctx); err != nil || len(vs) != 1 || vs[0].ID != id {
		t.Fatalf("List = %v, %v; want the rule stored under the long id", vs, err)
	}
	if _, err := d.Get(ctx, id); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if _, err := d.Delete(ctx, id, Change{Author: "t"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if vs, err := d.List(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("List after Delete = %v, %v; want none", vs, err)
	}
	if _, err := d.Create(ctx, strings.Repeat("b", 100), []byte("id: x\n"), Change{Author: "t"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Create under a long id: %v, want ErrInvalid", err)
	}
}
