package patterns

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// awkward are texts that need care in YAML.
var awkward = []string{
	"plain text", "- dash", "a: b", "#hash", "x #y", "x# y", "'single", `"double`, "it's",
	"null", "~", "true", "False", "123", "1.5", "0x1F", "@at", "`tick", "%pct", "é ü ∑",
	"a\u2028b", "a\u0085b", `back\slash`, "[", "{x}", "!bang", "&amp", "*star", "|", ">",
	"---", "...", "? q", "x:", "a,b", "tab\there", "ctl\x01", "\ufeffbom",
	"line1\n  line2", "x\n\ny", "x\n#y", "  indented\nsecond", "\nleading newline",
	"a\n\tb", "e.x > 1\n  && e.y < 2\n  || !has(e.z)", "x\r\ny",
}

// TestFormatAwkwardTexts round-trips awkward texts through every kind of field.
func TestFormatAwkwardTexts(t *testing.T) {
	for _, s := range awkward {
		r := textRule(s)
		out := Format(r)
		t.Run(strings.ReplaceAll(s, "\n", `\n`), func(t *testing.T) { checkRoundTrip(t, r, out) })
	}
}

// FuzzFormatText round-trips arbitrary texts through every kind of field.
func FuzzFormatText(f *testing.F) {
	for _, s := range awkward {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || len(s) > 1000 {
			return
		}
		r := textRule(s)
		checkRoundTrip(t, r, Format(r))
	})
}

// textRule is a valid rule with s (trimmed as Parse trims) in every text field.
func textRule(s string) *Rule {
	r := &Rule{
		ID:          "awkward",
		Name:        strings.TrimSpace(s),
		Description: strings.TrimSpace(s),
		Severity:    "medium",
		Owner:       strings.TrimSpace(s),
		Tags:        []string{"b"},
		Key:         strings.TrimSpace(s),
		Pattern: Pattern{Steps: []*Step{
			{Name: "a", Where: trimExpr(s)},
			{Name: "b", Where: "e.x", Until: trimExpr(s), Quantifier: &Quantifier{Min: 1, Max: -1}},
		}},
		Emit:   []Emit{{Name: "v", Expr: trimExpr(s)}},
		Source: "awkward.yaml",
	}
	if r.Name == "" {
		r.Name = r.ID
	}
	if tag := strings.TrimSpace(s); printable(tag) && tag != "" && len(tag) <= maxTagLength {
		r.Tags = append(r.Tags, tag)
	}
	if strings.TrimSpace(s) == "" {
		r.Pattern.Steps[1].Until = "e.stop"
		r.Emit[0].Expr = "e.x"
	}
	return r
}

func TestScalarStyle(t *testing.T) {
	tests := []struct {
		in   string
		ctx  scalarCtx
		want string
	}{
		{"e.amount > 500.0", inBlock, "e.amount > 500.0"},
		{"e.note == 'x'", inBlock, "e.note == 'x'"},
		{"!has(e.x)", inBlock, "'!has(e.x)'"},
		{"a: b", inBlock, "'a: b'"},
		{"true", inBlock, "'true'"},
		{"a, b", inBlock, "a, b"},
		{"a, b", inFlow, "'a, b'"},
		{"total", asKey, "total"},
		{"null", asKey, "'null'"},
		{"tab\there", inBlock, `"tab\there"`},
		{"two\nlines", inBlock, `"two\nlines"`},
		{"", inBlock, "''"},
	}
	for _, tt := range tests {
		if got := scalar(tt.in, tt.ctx); got != tt.want {
			t.Errorf("scalar(%q, %d) = %s, want %s", tt.in, tt.ctx, got, tt.want)
		}
	}
}

func TestPatternString(t *testing.T) {
	p := &Pattern{
		WithinMs: 90000,
		Skip:     Skip{Kind: SkipToFirst, Step: "a"},
		Steps: []*Step{
			{Name: "a", Where: "e.x", Quantifier: &Quantifier{Min: 2, Max: 4, Optional: true, Greedy: true, Inner: Any, WindowMs: 1000}},
			{Name: "n", Negation: NotNext, Where: "e.y"},
			{Name: "g", Contiguity: Strict, Quantifier: &Quantifier{Min: 3, Max: 3}, Group: []*Step{
				{Name: "b", Where: "e.b\n  && e.c"},
				{Name: "c", Contiguity: Any, WithinMs: 500},
			}},
		},
	}
	want := `begin a{2,4}? greedy allowCombinations repeatWithin 1s where(e.x)
notNext n where(e.y)
next group g{3} (
  begin b where(e.b && e.c)
  followedByAny c gap 500ms
)
within 1m30s
skip to_first a`
	if got := p.String(); got != want {
		t.Errorf("String:\n%s\nwant:\n%s", got, want)
	}
}
