package rules

import (
	"os"
	"strings"
	"testing"

	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules/refdata"
)

// TestHelpersDocumented checks that every helper the environment declares is in Helpers,
// that README.md shows each one's signature and example, and that each example compiles
// against the fraud schema.
func TestHelpersDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	env := fraudEnv(t)
	for _, h := range Helpers {
		if !strings.Contains(string(readme), "| `"+h.Signature+"` | "+h.Doc+" | `"+h.Example+"` |") {
			t.Errorf("README.md lacks the row of %s (signature, doc, example from rules.Helpers)", h.Name)
		}
		if _, errs := env.compileExpr(h.Example, patterns.Src{}, "", roleEmit, nil); errs != nil {
			t.Errorf("the example of %s does not compile: %v", h.Name, errs)
		}
		if !strings.HasPrefix(h.Signature, h.Name+"(") {
			t.Errorf("signature %q does not start with %s(", h.Signature, h.Name)
		}
	}
	// Every function the environment adds (overload ids cepd_…) is documented.
	n := 0
	for name, fn := range env.cel.Functions() {
		for _, o := range fn.OverloadDecls() {
			if strings.HasPrefix(o.ID(), "cepd_") {
				n++
				if _, ok := helper(name); !ok {
					t.Errorf("helper %s (overload %s) is not in Helpers", name, o.ID())
				}
			}
		}
	}
	if n < len(Helpers) {
		t.Errorf("the environment declares %d helper overloads, fewer than the %d documented", n, len(Helpers))
	}
}

func fraudEnv(t *testing.T) *Env {
	t.Helper()
	schema := fraudtest.Schema(t)
	cat, err := refdata.LoadDir("../testdata/fraud/data")
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewEnv(schema, EnvOptions{Data: refdata.NewHolder(cat)})
	if err != nil {
		t.Fatal(err)
	}
	return env
}
