package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestTestCommand runs `cepd test testdata/fraud` as a user would and checks the summary
// line and exit status, then the exit status of a test file that cannot run (no rule beside it).
func TestTestCommand(t *testing.T) {
	var out bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"test", fraudDir})
	if err := root.Execute(); err != nil {
		t.Fatalf("cepd test %s: %v\n%s", fraudDir, err, out.String())
	}
	if !regexp.MustCompile(`(?m)^[1-9][0-9]+ passed, 0 failed$`).Match(out.Bytes()) {
		t.Errorf("no summary line:\n%s", out.String())
	}
	out.Reset()
	root = newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"test", fraudDir, "--run", "not enough", "-v"})
	if err := root.Execute(); err != nil {
		t.Fatalf("cepd test --run: %v\n%s", err, out.String())
	}
	if got := out.String(); !strings.Contains(got, "ok   ../../testdata/fraud/card-testing.test.yaml:") || !strings.HasSuffix(got, "1 passed, 0 failed\n") {
		t.Errorf("cepd test --run 'not enough' -v:\n%s", got)
	}
	out.Reset()
	root = newRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"test", "../../rules/ruletest/testdata/failing.test.yaml", "--schema", fraudSchema})
	err := root.Execute()
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("a failing test file: err %v, want exit status 1\n%s", err, out.String())
	}
}
