package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestDirTestsFile: the tests of the current version are the NAME.test.yaml beside the
// rule file (what cepd test reads); an edit of that file on disk is a new version; a
// disabled rule has neither file.
func TestDirTestsFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := open(t, dir)
	live := filepath.Join(dir, "r1.test.yaml")
	tests := []byte("cases: []\n")
	if _, err := d.Create(ctx, "r1", src("r1", "a"), Change{Author: "a", Tests: tests}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(live); err != nil || string(b) != string(tests) {
		t.Fatalf("r1.test.yaml: %q %v", b, err)
	}
	edited := []byte("cases: [] # edited\n")
	if err := os.WriteFile(live, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := d.Refresh(ctx); err != nil || !changed {
		t.Fatalf("Refresh after editing the test file: %v %v", changed, err)
	}
	v, err := d.Get(ctx, "r1")
	if err != nil || v.Version != 2 || v.Action != ActionDisk || string(v.Tests) != string(edited) {
		t.Fatalf("after the edit: %+v %v", v, err)
	}
	if changed, err := d.Refresh(ctx); err != nil || changed {
		t.Fatalf("Refresh with nothing edited: %v %v", changed, err)
	}
	if _, err := d.SetMode(ctx, "r1", Disabled, Change{Author: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live); !os.IsNotExist(err) {
		t.Fatalf("a disabled rule's test file is still there: %v", err)
	}
	if _, err := d.SetMode(ctx, "r1", Active, Change{Author: "a"}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(live); err != nil || string(b) != string(edited) {
		t.Fatalf("r1.test.yaml after enabling: %q %v", b, err)
	}
	// A reopened store reads the same tests.
	if v, err := open(t, dir).Get(ctx, "r1"); err != nil || string(v.Tests) != string(edited) || v.Version != 4 {
		t.Fatalf("reopened: %+v %v", v, err)
	}
}
