package fraudtest

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestPaths: from this package's directory the set is two levels up, written as a test
// would write it by hand; its schema loads (keyed by card_id) and its rule files are the
// set's rules without the schema or the rule tests.
func TestPaths(t *testing.T) {
	if got, want := Dir(), filepath.Join("..", "..", "testdata", "fraud"); got != want {
		t.Fatalf("Dir() = %q, want %q", got, want)
	}
	if got, want := SchemaPath(), "../../testdata/fraud/schema.yaml"; got != filepath.FromSlash(want) {
		t.Errorf("SchemaPath() = %q, want %q", got, want)
	}
	if got, want := Examples(), "../../testdata/fraud/examples"; got != filepath.FromSlash(want) {
		t.Errorf("Examples() = %q, want %q", got, want)
	}
	if s := Schema(t); s.KeyField != "card_id" {
		t.Errorf("schema keyed by %q, want card_id", s.KeyField)
	}
	files := RuleFiles(t)
	if !slices.IsSorted(files) || !slices.Contains(files, filepath.Join(Dir(), "card-testing.yaml")) {
		t.Errorf("rule files %v: want sorted, with card-testing.yaml", files)
	}
	for _, f := range files {
		if b := filepath.Base(f); b == "schema.yaml" || filepath.Ext(b[:len(b)-len(".yaml")]) == ".test" {
			t.Errorf("rule files hold %s", f)
		}
	}
}
