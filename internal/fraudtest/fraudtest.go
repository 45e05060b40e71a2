package fraudtest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// minRules is fewer rules than the set has: a listing that finds fewer is looking at the
// wrong directory.
const minRules = 16

// Dir is testdata/fraud, relative to the working directory when it can be (a test runs
// in its package's directory: "../../testdata/fraud" from cmd/cepd), absolute otherwise.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "fraud")
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, dir); err == nil {
			return rel
		}
	}
	return dir
}

// SchemaPath is the rule set's schema.yaml.
func SchemaPath() string { return filepath.Join(Dir(), "schema.yaml") }

// Examples is the directory of the rule set's example event files and their goldens.
func Examples() string { return filepath.Join(Dir(), "examples") }

// Schema is the rule set's schema, loaded; it fails tb if the schema does not load.
func Schema(tb testing.TB) *event.Schema {
	tb.Helper()
	s, err := event.LoadSchema(SchemaPath())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// AlertLines is the alerts as cepd replay writes them (alerts.WriteLines), the format of
// the examples' .golden files; it fails tb if an alert does not encode.
func AlertLines(tb testing.TB, as []*alerts.Alert) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := alerts.WriteLines(&buf, as); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// AlertIDs is the alerts' ids, sorted, each as often as it is delivered: two runs that
// must deliver the same alerts compare these (an alert delivered twice differs).
func AlertIDs(as []*alerts.Alert) []string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	sort.Strings(ids)
	return ids
}

// RuleFiles lists the rule files of the set (patterns.IsRuleFile: not the schema nor the
// rule tests), sorted; it fails tb if there are fewer than 16.
func RuleFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(Dir(), "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if patterns.IsRuleFile(filepath.Base(f)) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	if len(out) < minRules {
		tb.Fatalf("the fraud rule set has %d rules in %s, want %d or more", len(out), Dir(), minRules)
	}
	return out
}

// BadDraft is a draft rule over the set's schema with two errors, each at its place: an
// undefined field (e.amont, at 5:13) and a string compared with a number (at 7:19).
const BadDraft = `id: draft
severity: high
pattern:
  - name: a
    where: e.amont > 10.0
  - name: b
    where: e.type == 3
`
