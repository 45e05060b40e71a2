package patterns

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// foldWidth is the longest line a folded (>-) block is wrapped to, indentation included.
const foldWidth = 92

// foldedBlock writes a long one-line text as a >- block scalar wrapped at foldWidth, the
// way rule authors write descriptions; ok is false when the text is short enough for one
// line or a folded block would not read back as the same text (line breaks, runs of
// spaces, leading or trailing space, unprintable characters).
func foldedBlock(s string, indent int, keyLen int) (string, bool) {
	if keyLen+2+len(s) <= foldWidth || strings.ContainsAny(s, "\n\r\t") || strings.Contains(s, "  ") ||
		strings.TrimSpace(s) != s || !printableLines(s) {
		return "", false
	}
	pad := strings.Repeat(" ", indent)
	var b strings.Builder
	b.WriteString(">-")
	line := 0
	for i, word := range strings.Fields(s) {
		if i == 0 || line+1+len(word) > foldWidth {
			b.WriteString("\n" + pad + word)
			line = indent + len(word)
			continue
		}
		b.WriteString(" " + word)
		line += 1 + len(word)
	}
	out := b.String()
	n, ok := parseSnippet("k: " + strings.ReplaceAll(out, "\n"+pad, "\n  "))
	if !ok || n.Kind != yaml.MappingNode || len(n.Content) != 2 || n.Content[1].Value != s {
		return "", false
	}
	return out, true
}
