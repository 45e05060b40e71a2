package fraudtest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cepd/cepd/alerts"
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

// TestAlertLines: one JSON object a line, in order, with <, > and & as they are.
func TestAlertLines(t *testing.T) {
	got := string(AlertLines(t, []*alerts.Alert{{ID: "a1", RuleID: "r"}, {ID: "a2", RuleID: "r", Key: "<b> & </b>"}}))
	want := `{"id":"a1","kind":"","rule_id":"r"`
	if lines := slices.Collect(strings.Lines(got)); len(lines) != 2 || !strings.HasPrefix(lines[0], want) ||
		!strings.Contains(lines[1], `"<b> & </b>"`) || !strings.HasSuffix(lines[1], "}\n") {
		t.Fatalf("AlertLines:\n%s", got)
	}
}
