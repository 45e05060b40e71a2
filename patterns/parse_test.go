package patterns

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *Rule {
	t.Helper()
	r, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%s\n%v", src, err)
	}
	return r
}

// TestExprSrc checks where expressions are located, for every kind of scalar. The
// step under test is the second; its where is on line 5.
func TestExprSrc(t *testing.T) {
	const head = "id: x\npattern:\n  - name: a\n"
	tests := []struct {
		name, src string
		where     string
		at        Src
	}{
		{"plain", "  - name: b\n    where: e.x > 1\n", "e.x > 1", Src{Pos: Pos{5, 12}}},
		{"single", "  - name: b\n    where: 'e.x > 1'\n", "e.x > 1", Src{Pos: Pos{5, 13}}},
		{"double", "  - name: b\n    where: \"e.x > 1\"\n", "e.x > 1", Src{Pos: Pos{5, 13}}},
		{"literal", "  - name: b\n    where: |\n      e.x > 1\n        && e.y\n", "e.x > 1\n  && e.y", Src{Pos: Pos{6, 7}, Indent: 7}},
		{"literal keep", "  - name: b\n    where: |+\n      e.x\n\n", "e.x", Src{Pos: Pos{6, 7}, Indent: 7}},
		{"literal indicator", "  - name: b\n    where: |2\n        e.x\n      && e.y\n", "  e.x\n&& e.y", Src{Pos: Pos{6, 7}, Indent: 7}},
		{"folded", "  - name: b\n    where: >\n\n      e.x >\n      1\n", "\ne.x > 1", Src{Pos: Pos{7, 7}}},
		{"plain multi-line", "  - name: b\n    where: e.x >\n      1\n", "e.x > 1", Src{Pos: Pos{5, 12}}},
		{"flow", "\n  - {name: b, where: 'e.x'}\n", "e.x", Src{Pos: Pos{5, 23}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustParse(t, head+tt.src)
			s := r.Pattern.Steps[1]
			if s.Where != tt.where || s.WhereSrc != tt.at {
				t.Errorf("where %q at %+v, want %q at %+v", s.Where, s.WhereSrc, tt.where, tt.at)
			}
		})
	}
}

func TestEmitSrcJSON(t *testing.T) {
	src := "{\"id\": \"j\",\n \"pattern\": [{\"name\": \"a\",\n   \"where\": \"e.x\"}],\n \"emit\": {\"v\": \"e.y + 1\"}}\n"
	r := mustParse(t, src)
	if got, want := r.Pattern.Steps[0].WhereSrc, (Src{Pos: Pos{3, 14}}); got != want {
		t.Errorf("where at %+v, want %+v", got, want)
	}
	if got, want := r.Emit[0].Src, (Src{Pos: Pos{4, 17}}); got != want {
		t.Errorf("emit at %+v, want %+v", got, want)
	}
	if got, want := r.Pattern.Steps[0].Pos, (Pos{2, 14}); got != want {
		t.Errorf("step at %+v, want %+v", got, want)
	}
}

// TestQuantifiers checks how times, optional and the repetition options map to a
// Quantifier.
func TestQuantifiers(t *testing.T) {
	tests := []struct {
		keys string
		want *Quantifier
	}{
		{"", nil},
		{"optional: false\n    greedy: false", nil},
		{"times: 1", &Quantifier{Min: 1, Max: 1}},
		{"times: 1..1", &Quantifier{Min: 1, Max: 1}},
		{"optional: true", &Quantifier{Min: 1, Max: 1, Optional: true}},
		{"times: 0..1", &Quantifier{Min: 1, Max: 1, Optional: true}},
		{"times: 3", &Quantifier{Min: 3, Max: 3}},
		{"times: 2..5", &Quantifier{Min: 2, Max: 5}},
		{"times: 0..5", &Quantifier{Min: 1, Max: 5, Optional: true}},
		{"times: 1+", &Quantifier{Min: 1, Max: -1}},
		{"times: 0+", &Quantifier{Min: 1, Max: -1, Optional: true}},
		{"times: 2+\n    greedy: true\n    repeat: consecutive\n    repeat_within: 1m",
			&Quantifier{Min: 2, Max: -1, Greedy: true, Inner: Strict, WindowMs: 60000}},
		{"times: 2..3\n    repeat: relaxed", &Quantifier{Min: 2, Max: 3, Inner: Relaxed}},
		{"times: 2..3\n    repeat: allow_combinations", &Quantifier{Min: 2, Max: 3, Inner: Any}},
	}
	for _, tt := range tests {
		r := mustParse(t, "id: q\npattern:\n  - name: a\n    "+tt.keys+"\n")
		q := r.Pattern.Steps[0].Quantifier
		if q != nil {
			if q.Pos.Line != 4 {
				t.Errorf("%q: quantifier at %+v, want line 4", tt.keys, q.Pos)
			}
			c := *q
			c.Pos = Pos{}
			q = &c
		}
		if !reflect.DeepEqual(q, tt.want) {
			t.Errorf("%q: quantifier %+v, want %+v", tt.keys, q, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	r := mustParse(t, "id: d\npattern:\n  - name: a\n  - name: b\n    contiguity: followed_by\n")
	if r.Name != "d" || r.Severity != "medium" || r.Source != "test.yaml" {
		t.Errorf("defaults: name %q severity %q source %q", r.Name, r.Severity, r.Source)
	}
	if c := r.Pattern.Steps[1].Contiguity; c != Relaxed {
		t.Errorf("followed_by = %d, want Relaxed", c)
	}
	if c := r.Pattern.Steps[0].Contiguity; c != ContiguityDefault {
		t.Errorf("first step contiguity = %d, want default", c)
	}
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rule.yaml")
	if err := os.WriteFile(path, []byte("id: f\npattern:\n  - name: a\n    wher: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":4:5: unknown key 'wher' in step; did you mean 'where'?") {
		t.Errorf("ParseFile error = %v", err)
	}
	if _, err := ParseFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "read rule file") {
		t.Errorf("missing file: %v", err)
	}
	big := append([]byte("id: big\ndescription: "), make([]byte, MaxFileSize)...)
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseFile(path); err == nil || !strings.Contains(err.Error(), "rule file is too large") {
		t.Errorf("big file: %v", err)
	}
}

// TestDocExample keeps the example in doc.go valid.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "A full example:\n//\n")
	example, _, _ := strings.Cut(rest, "\n//\n")
	var b strings.Builder
	for _, line := range strings.Split(example, "\n") {
		b.WriteString(strings.TrimPrefix(line, "//\t") + "\n")
	}
	r := mustParse(t, b.String())
	if len(r.Pattern.Steps) != 4 || len(r.Emit) != 1 {
		t.Errorf("example has %d steps and %d emits", len(r.Pattern.Steps), len(r.Emit))
	}
	checkRoundTrip(t, r, Format(r))
}
