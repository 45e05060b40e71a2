package patterns

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// exprSrc locates the text of the scalar val (the value of key) in the file: where its
// first character stands and, for a literal block (|), the column its lines start at.
func (d *decoder) exprSrc(key, val *yaml.Node) Src {
	p := nodePos(val)
	switch {
	case val.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0:
		p.Col++
	case val.Style&yaml.LiteralStyle != 0:
		col := d.blockIndent(key, val)
		return Src{Pos: Pos{Line: val.Line + 1, Col: col}, Indent: col}
	case val.Style&yaml.FoldedStyle != 0:
		col := d.blockIndent(key, val)
		line := val.Line + 1
		for line <= len(d.lines) && strings.TrimSpace(d.lines[line-1]) == "" {
			line++
		}
		return Src{Pos: Pos{Line: line, Col: col}}
	}
	return Src{Pos: p}
}

// blockIndent is the (1-based) column the content lines of a block scalar start at:
// given by an indentation indicator (|2) relative to the key's indentation, or else the
// indentation of the first non-blank line after the header.
func (d *decoder) blockIndent(key, val *yaml.Node) int {
	if val.Line < 1 || val.Line > len(d.lines) {
		return 0
	}
	header := []rune(d.lines[val.Line-1])
	for i := val.Column; i < len(header) && i < val.Column+2; i++ {
		if c := header[i]; c >= '1' && c <= '9' {
			return key.Column + int(c-'0')
		}
	}
	for _, l := range d.lines[val.Line:] {
		if trimmed := strings.TrimLeft(l, " "); strings.TrimSpace(trimmed) != "" {
			return len(l) - len(trimmed) + 1
		}
	}
	return 0
}
