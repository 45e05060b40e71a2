package patterns

import (
	"flag"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cepd/cepd/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// ruleFiles lists the rule files (YAML and JSON) in dir.
func ruleFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*.yaml", "*.json"} {
		m, err := filepath.Glob(filepath.Join("testdata", dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatalf("no rule files in testdata/%s", dir)
	}
	return files
}

func goldenPath(file string) string {
	return strings.TrimSuffix(file, filepath.Ext(file)) + ".golden"
}

// TestValidGolden parses every testdata/valid rule, compares its String and Format
// with the golden file, and checks that Format round-trips.
func TestValidGolden(t *testing.T) {
	for _, file := range ruleFiles(t, "valid") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r, err := ParseFile(file)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out := Format(r)
			checkRoundTrip(t, r, out)
			golden.Check(t, goldenPath(file), "# String\n"+r.Pattern.String()+"\n# Format\n"+string(out), *update)
		})
	}
}

// TestErrorsGolden parses every testdata/errors rule and compares the error text.
func TestErrorsGolden(t *testing.T) {
	for _, file := range ruleFiles(t, "errors") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r, err := ParseFile(file)
			if err == nil {
				t.Fatalf("Parse succeeded:\n%s", Format(r))
			}
			if r != nil {
				t.Error("Parse returned a rule with its error")
			}
			if _, ok := err.(ErrorList); !ok {
				t.Errorf("error is %T, want ErrorList", err)
			}
			golden.Check(t, goldenPath(file), err.Error()+"\n", *update)
		})
	}
}

// checkRoundTrip checks that out (= Format(r)) parses back to r and formats the same.
func checkRoundTrip(t testing.TB, r *Rule, out []byte) {
	t.Helper()
	r2, err := Parse(r.Source, out)
	if err != nil {
		t.Fatalf("Parse(Format(r)): %v\n%s", err, out)
	}
	if a, b := withoutPos(r), withoutPos(r2); !reflect.DeepEqual(a, b) {
		t.Fatalf("Parse(Format(r)) != r\nFormat:\n%s\nr:  %s\nr2: %s", out, dump(a), dump(b))
	}
	if out2 := Format(r2); string(out2) != string(out) {
		t.Fatalf("Format is not a fixed point:\n%s\n---\n%s", out, out2)
	}
}

// withoutPos copies r with every position cleared.
func withoutPos(r *Rule) *Rule {
	c := *r
	c.Pattern.Skip.Pos, c.KeyPos, c.Rearm.Pos = Pos{}, Pos{}, Pos{}
	c.Pattern.Steps = stepsWithoutPos(r.Pattern.Steps)
	c.Aggregates = nil
	for _, a := range r.Aggregates {
		a := *a
		a.Pos, a.FieldPos, a.ByPos, a.WhereSrc = Pos{}, Pos{}, Pos{}, Src{}
		c.Aggregates = append(c.Aggregates, &a)
	}
	c.Emit = nil
	for _, e := range r.Emit {
		e.Src = Src{}
		c.Emit = append(c.Emit, e)
	}
	return &c
}

func stepsWithoutPos(steps []*Step) []*Step {
	if steps == nil {
		return nil
	}
	out := make([]*Step, len(steps))
	for i, s := range steps {
		c := *s
		c.Pos, c.WhereSrc, c.UntilSrc = Pos{}, Src{}, Src{}
		if s.Quantifier != nil {
			q := *s.Quantifier
			q.Pos = Pos{}
			c.Quantifier = &q
		}
		c.Group = stepsWithoutPos(s.Group)
		out[i] = &c
	}
	return out
}

// dump prints a rule's fields for failure messages.
func dump(r *Rule) string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(r.Pattern.String(), "\n", " | "))
	for _, s := range r.Pattern.Steps {
		b.WriteString("\n  ")
		b.WriteString(stepDump(s))
	}
	return b.String() + "\n  " + strings.ReplaceAll(string(Format(r)), "\n", "\\n")
}

func stepDump(s *Step) string {
	var b strings.Builder
	b.WriteString(s.Name + " where=" + strconvQuote(s.Where) + " until=" + strconvQuote(s.Until))
	if s.Quantifier != nil {
		b.WriteString(" q=" + strings.TrimSpace(strings.ReplaceAll(quantifierString(s.Quantifier), "\n", " ")))
	}
	return b.String()
}

func strconvQuote(s string) string { return strconv.Quote(s) }
