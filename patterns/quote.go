package patterns

import (
	"fmt"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// scalarCtx is where a scalar is written: it decides which plain texts are safe.
type scalarCtx uint8

const (
	inBlock scalarCtx = iota // the value of a block mapping key (key: text)
	inFlow                   // an item of a flow list ([a, b])
	asKey                    // a mapping key (text: value)
)

// scalar writes s as a YAML scalar: plain when YAML reads it back as the same text,
// else single-quoted, else double-quoted with escapes.
func scalar(s string, ctx scalarCtx) string {
	if plainCandidate(s) && readsAs(s, s, ctx) {
		return s
	}
	if q := "'" + strings.ReplaceAll(s, "'", "''") + "'"; !strings.ContainsAny(s, "\n\r") && printable(s) && readsAs(q, s, ctx) {
		return q
	}
	return doubleQuoted(s)
}

// plainCandidate rules out texts that cannot be plain scalars, before readsAs asks
// the YAML parser about the rest.
func plainCandidate(s string) bool {
	if s == "" || strings.TrimSpace(s) != s || strings.ContainsAny(s, "\n\r\t") || !printable(s) {
		return false
	}
	return !strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`", rune(s[0]))
}

// readsAs reports whether text, written in ctx, is read back by YAML as the string want.
func readsAs(text, want string, ctx scalarCtx) bool {
	var doc string
	switch ctx {
	case inBlock:
		doc = "k: " + text
	case inFlow:
		doc = "k: [" + text + "]"
	case asKey:
		doc = text + ": v"
	}
	n, ok := parseSnippet(doc)
	if !ok || n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return false
	}
	got := n.Content[1]
	switch ctx {
	case inFlow:
		if got.Kind != yaml.SequenceNode || len(got.Content) != 1 {
			return false
		}
		got = got.Content[0]
	case asKey:
		got = n.Content[0]
	}
	return got.Kind == yaml.ScalarNode && got.Tag == "!!str" && got.Value == want
}

// parseSnippet parses a small document and returns its root mapping.
func parseSnippet(doc string) (n *yaml.Node, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	var root yaml.Node
	if yaml.Unmarshal([]byte(doc), &root) != nil || len(root.Content) != 1 {
		return nil, false
	}
	return root.Content[0], true
}

// literalBlock writes s as a literal block scalar (|) whose lines are indented by
// indent spaces, or reports false when YAML would not read it back as s.
func literalBlock(s string, indent int) (string, bool) {
	if !strings.Contains(s, "\n") || strings.HasSuffix(s, "\n") || strings.Contains(s, "\r") || !printableLines(s) {
		return "", false
	}
	var b strings.Builder
	b.WriteString("|\n")
	pad := strings.Repeat(" ", indent)
	for _, line := range strings.Split(s, "\n") {
		if line != "" {
			b.WriteString(pad)
			b.WriteString(line)
		}
		b.WriteByte('\n')
	}
	out := b.String()
	n, ok := parseSnippet("k: " + strings.ReplaceAll(out, "\n"+pad, "\n  "))
	if !ok || n.Kind != yaml.MappingNode || len(n.Content) != 2 || n.Content[1].Value != s+"\n" {
		return "", false
	}
	return strings.TrimSuffix(out, "\n"), true
}

func printableLines(s string) bool {
	for _, c := range s {
		if c != '\n' && c != '\t' && !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

// doubleQuoted writes s as a double-quoted YAML scalar, escaping what is not printable.
func doubleQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case unicode.IsPrint(c):
			b.WriteRune(c)
		case c <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04X`, c)
		default:
			fmt.Fprintf(&b, `\U%08X`, c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
