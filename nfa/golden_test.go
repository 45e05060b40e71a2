package nfa_test

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cepd/cepd/internal/golden"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/nfa/conformance"
	"github.com/cepd/cepd/patterns"
)

var update = flag.Bool("update", false, "rewrite golden files")

type textCond string

func (textCond) Eval(*nfa.EvalContext) bool { return false }

// TestExplainGolden compiles the pattern of every sample conformance case and compares
// the NFA dump with testdata/explain/<case>.golden.
func TestExplainGolden(t *testing.T) {
	cases, err := conformance.Load("../testdata/conformance/flink-samples")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.ID, func(t *testing.T) {
			p, err := c.PatternAST()
			if err != nil {
				t.Fatal(err)
			}
			prog, err := nfa.Compile(p, func(s *patterns.Step, k nfa.CondKind) (nfa.Condition, error) {
				if k == nfa.CondUntil {
					return textCond(s.Until), nil
				}
				if s.Where == "" {
					return nil, nil
				}
				return textCond(s.Where), nil
			}, nfa.Options{})
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "explain", c.ID+".golden"), prog.String(), *update)
		})
	}
}

func TestCompileErrors(t *testing.T) {
	step := func(name string) *patterns.Step { return &patterns.Step{Name: name} }
	neg := func(name string, n patterns.Negation) *patterns.Step {
		return &patterns.Step{Name: name, Negation: n}
	}
	tests := []struct {
		name string
		pat  *patterns.Pattern
		want string
	}{
		{"negation first", &patterns.Pattern{Steps: []*patterns.Step{neg("n", patterns.NotNext), step("a")}}, "cannot begin with a negation"},
		{"trailing notFollowedBy", &patterns.Pattern{Steps: []*patterns.Step{step("a"), neg("n", patterns.NotFollowedBy)}}, "unless it has a window"},
		{"duplicate", &patterns.Pattern{Steps: []*patterns.Step{step("a"), step("a")}}, "used twice"},
		{"until without loop", &patterns.Pattern{Steps: []*patterns.Step{{Name: "a", Until: "x"}}}, "until only applies"},
		{"skip to unknown", &patterns.Pattern{Steps: []*patterns.Step{step("a")}, Skip: patterns.Skip{Kind: patterns.SkipToFirst, Step: "zz"}}, "does not have"},
		{"gap over window", &patterns.Pattern{Steps: []*patterns.Step{step("a"), {Name: "b", WithinMs: 50}}, WithinMs: 10}, "cannot be longer"},
		{"empty", &patterns.Pattern{}, "empty pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := nfa.Compile(tt.pat, nil, nfa.Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want error containing %q", err, tt.want)
			}
		})
	}
}
