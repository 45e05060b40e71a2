package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/store"
)

// TestKeptDirectoryTests: the tests a change keeps may be a rule directory's
// NAME.test.yaml, whose cases with events_file the API cannot read: those are left out
// and the inline cases decide. A severity change passes the shipped card-testing tests;
// a change breaking the rule fails their inline cases and is refused.
func TestKeptDirectoryTests(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, f := range []string{"schema.yaml", "card-testing.yaml", "card-testing.test.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), readFile(t, filepath.Join(fraudDir, f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := string(readFile(t, filepath.Join(fraudDir, "card-testing.test.yaml")))
	if !strings.Contains(tests, "events_file:") {
		t.Fatal("card-testing.test.yaml has no events_file case any more: pick another rule")
	}
	st, err := store.OpenDir(dir, store.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := st.Get(ctx, "card-testing"); err != nil || string(v.Tests) != tests {
		t.Fatalf("the store does not hold the directory's tests: %v", err)
	}
	schema, err := event.LoadSchema(filepath.Join(dir, "schema.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewRules(st, swapper{}, schema, rules.EnvOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := string(readFile(t, filepath.Join(dir, "card-testing.yaml")))
	r, err := s.UpdateRule(ctx, &cepv1.UpdateRuleRequest{Id: "card-testing", Source: strings.Replace(src, "severity: high", "severity: critical", 1)})
	if err != nil || r.GetTests() != tests {
		t.Fatalf("a change passing the kept inline cases: %v", err)
	}
	broken := strings.Replace(src, "within: 10m", "within: 1s", 1)
	if broken == src {
		t.Fatal("card-testing.yaml has no 'within: 10m' any more")
	}
	if _, err := s.UpdateRule(ctx, &cepv1.UpdateRuleRequest{Id: "card-testing", Source: broken}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("a change failing the kept inline cases: %v", err)
	}
	// Sent with the change, a case with events_file is refused, as by POST /v1/rules:test.
	if _, err := s.UpdateRule(ctx, &cepv1.UpdateRuleRequest{Id: "card-testing", Source: src, Tests: tests}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "events_file cannot be read") {
		t.Fatalf("sent tests with events_file: %v", err)
	}
}

// swapper takes every rule set: the test is about what is stored, not what runs.
type swapper struct{}

func (swapper) SwapRules(context.Context, *engine.RuleSet) (engine.ReloadStats, error) {
	return engine.ReloadStats{}, nil
}

func (swapper) Rules() *engine.RuleSet { return nil }
