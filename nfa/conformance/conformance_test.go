package conformance

import (
	"os"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
)

// corpora: the cases kept in this repository (the shared samples plus cases transcribed
// from Flink's test classes), and the shared corpus when it sits beside the repository.
var corpora = []string{"../../testdata/conformance", "../../../shared/conformance/cases"}

// production compiles cases as cepd does: the rules package's CEL environment.
func production(t *testing.T) ProgramCompiler {
	env, err := rules.NewDynamicEnv()
	if err != nil {
		t.Fatal(err)
	}
	return func(_ *event.Schema, p *patterns.Pattern) (*nfa.Program, error) {
		c, err := rules.Compile(&patterns.Rule{ID: "conformance", Pattern: *p, Timeouts: true, Severity: patterns.DefaultSeverity}, env, nil)
		if err != nil {
			return nil, err
		}
		return c.Program, nil
	}
}

// TestCorpus runs every case through the real compiler and matcher, with conditions
// compiled by the rules package and, independently, by a plain map-based CEL bridge.
func TestCorpus(t *testing.T) {
	compilers := map[string]ProgramCompiler{"rules": production(t), "simple-cel": WithConditions(simpleCEL)}
	for _, dir := range corpora {
		if _, err := os.Stat(dir); err != nil {
			t.Logf("%s: not present, not run", dir)
			continue
		}
		cases, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(cases) == 0 {
			t.Fatalf("no cases under %s", dir)
		}
		for name, compile := range compilers {
			pass := 0
			for _, c := range cases {
				if o := Run(c, compile); o.Pass {
					pass++
				} else {
					t.Errorf("%s with %s conditions: %s (%s)\n%s", dir, name, c.ID, c.Source, o.Detail)
				}
			}
			t.Logf("%s, %s conditions: %d passed, %d failed", dir, name, pass, len(cases)-pass)
		}
	}
}
