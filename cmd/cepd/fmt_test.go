package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestFraudRulesCanonical is `cepd fmt --check testdata/fraud`: every shipped rule is in
// canonical form, the directory is walked, and the schema and the rule tests beside the
// rules are skipped (also when named, as a shell glob names them).
func TestFraudRulesCanonical(t *testing.T) {
	globbed, err := filepath.Glob(filepath.Join(fraudDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{fraudDir}, globbed} {
		var out bytes.Buffer
		root := newRootCmd()
		root.SetOut(&out)
		root.SetArgs(append([]string{"fmt", "--check"}, args...))
		if err := root.Execute(); err != nil {
			t.Errorf("cepd fmt --check %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
	}
	files, err := ruleFiles([]string{fraudDir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 16 {
		t.Fatalf("cepd fmt found %d rules in %s: %v", len(files), fraudDir, files)
	}
	for _, f := range files {
		if b := filepath.Base(f); b == "schema.yaml" || strings.HasSuffix(b, ".test.yaml") {
			t.Errorf("cepd fmt would format %s", f)
		}
	}
}
