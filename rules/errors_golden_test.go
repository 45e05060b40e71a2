package rules

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/golden"
	"github.com/cepd/cepd/rules/refdata"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/errors.golden")

// TestErrorMessagesGolden compiles every bad rule of testdata/errors (against the fraud
// schema) and compares all of its messages, with positions and carets, with
// testdata/errors.golden. -update rewrites the golden file: read every message first.
func TestErrorMessagesGolden(t *testing.T) {
	schema := fraudtest.Schema(t)
	data, err := refdata.LoadDir("../testdata/fraud/data") // merchant_watch, merchant_risk
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewEnv(schema, EnvOptions{Data: refdata.NewHolder(data)})
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) < 10 {
		t.Fatalf("want 10 or more bad rules in testdata/errors, have %d (%v)", len(files), err)
	}
	var out bytes.Buffer
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		c, errs := CompileSource(name, src, "", env, NewRegistry())
		if c != nil || len(errs) == 0 {
			t.Errorf("%s compiled: every rule of testdata/errors must fail", f)
			continue
		}
		out.WriteString("== " + name + "\n" + errs.Error() + "\n\n")
	}
	golden.Check(t, "testdata/errors.golden", out.String(), *updateGolden)
}
