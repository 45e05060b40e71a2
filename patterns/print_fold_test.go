package patterns

import (
	"strings"
	"testing"
)

// TestFoldedDescription checks that a long one-line description prints as a >- block
// wrapped within foldWidth, reads back as the same text, and formats to the same bytes.
func TestFoldedDescription(t *testing.T) {
	desc := strings.Repeat("Three or more tiny card-not-present authorisations: a fraudster's test. ", 5)
	desc = strings.TrimSpace(desc)
	for _, tc := range []struct{ desc, want string }{
		{desc, "description: >-\n  Three or more"},
		{"short text", "description: short text\n"},
		{"two  spaces " + desc, "description: 'two  spaces"},
		{"line one\nline two", "description: |\n  line one\n  line two\n"},
	} {
		src := "id: r\ndescription: " + quoteYAML(tc.desc) + "\npattern:\n  - name: a\n    where: e.x\n"
		r, err := Parse("r.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		out := Format(r)
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%q printed as\n%s\nwant it to contain %q", tc.desc, out, tc.want)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(tc.want, ">-") && len(l) > foldWidth {
				t.Errorf("line longer than %d: %q", foldWidth, l)
			}
		}
		r2, err := Parse("r.yaml", out)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if r2.Description != tc.desc {
			t.Errorf("read back %q, want %q", r2.Description, tc.desc)
		}
		if out2 := Format(r2); string(out2) != string(out) {
			t.Errorf("not a fixed point:\n%s\n%s", out, out2)
		}
	}
}

// quoteYAML writes s as a YAML double-quoted scalar.
func quoteYAML(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
