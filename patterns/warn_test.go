package patterns

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWarnings: the rules of issue 11 and their kin are flagged with the reason at the
// step responsible; a whole-match window removes the warning; a gap window does not.
func TestWarnings(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // "line: fragment"
	}{
		{"two greedy loops", `
id: x
pattern:
  - name: a
    times: 1+
    greedy: true
  - name: b
    times: 1+
    greedy: true
  - name: c
    where: e.kind == 'never'
`, []string{"8: steps 'a', 'b' repeat without bound"}},
		{"any loop", `
id: x
pattern:
  - name: a
    times: 1+
    repeat: any
  - name: c
    contiguity: any
`, []string{"4: step 'a' repeats with `repeat: any`", "5: step 'a' repeats without bound", "7: step 'c' follows with `contiguity: any`"}},
		{"one loop", `
id: x
pattern:
  - name: a
  - name: b
    times: 3+
    until: e.kind == 'x'
`, []string{"6: step 'b' repeats without bound"}},
		{"gap window is no bound", `
id: x
within: {duration: 1m, type: previous_and_current}
pattern:
  - name: a
    times: 1+
`, []string{"6: step 'a' repeats without bound"}},
		{"windowed", `
id: x
within: 1h
pattern:
  - name: a
    times: 1+
    repeat: any
  - name: b
    times: 1+
`, nil},
		{"bounded", `
id: x
pattern:
  - name: a
    times: 2..5
  - name: b
`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Parse("r.yaml", []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range Warnings(r) {
				got = append(got, w.Error())
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d warnings, want %d:\n%s", len(got), len(c.want), strings.Join(got, "\n"))
			}
			for i, w := range c.want {
				line, frag, _ := strings.Cut(w, ": ")
				if !strings.HasPrefix(got[i], "r.yaml:"+line+":") || !strings.Contains(got[i], frag) {
					t.Errorf("warning %d: got %q, want line %s and %q", i, got[i], line, frag)
				}
			}
		})
	}
}

// TestShippedRulesHaveNoWarnings: the fraud rules (all windowed) are not flagged.
func TestShippedRulesHaveNoWarnings(t *testing.T) {
	files, _ := filepath.Glob("../testdata/fraud/*.yaml")
	n := 0
	for _, f := range files {
		if !IsRuleFile(filepath.Base(f)) {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Parse(f, src)
		if err != nil {
			t.Fatal(err)
		}
		n++
		if w := Warnings(r); len(w) > 0 {
			t.Errorf("%s: %v", f, w)
		}
	}
	if n < 10 {
		t.Fatalf("only %d rules found", n)
	}
}
