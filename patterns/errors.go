package patterns

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a rule file, at a position, in words an analyst understands.
type Error struct {
	File string // file name as given to the parser ("" if none)
	Pos  Pos
	Msg  string
	// Line is the source line the error points into (without newline), for the caret
	// display; "" when unknown.
	Line string
}

// Error formats as file:line:col: message, followed by the source line and a caret when
// the line is known.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Pos.Line, e.Pos.Col)
	} else if e.File != "" {
		b.WriteByte(' ')
	}
	b.WriteString(e.Msg)
	if e.Line != "" && e.Pos.Col > 0 {
		b.WriteString("\n    ")
		b.WriteString(strings.ReplaceAll(e.Line, "\t", " "))
		b.WriteString("\n    ")
		b.WriteString(strings.Repeat(" ", min(e.Pos.Col-1, len(e.Line))))
		b.WriteByte('^')
	}
	return b.String()
}

// ErrorList is every problem found in one rule (or rule set), sorted by file and position.
// A non-empty ErrorList is returned as the error; nothing of the rule is loaded.
type ErrorList []*Error

// Add appends an error.
func (l *ErrorList) Add(file string, pos Pos, format string, args ...any) {
	*l = append(*l, &Error{File: file, Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// Sort orders the list by file, line and column (stable for equal positions).
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Col < b.Pos.Col
	})
}

// WithSource fills in each error's Line from the file's text (errors of file name only).
func (l ErrorList) WithSource(file string, src []byte) {
	lines := strings.Split(string(src), "\n")
	for _, e := range l {
		if e.File == file && e.Line == "" && e.Pos.Line > 0 && e.Pos.Line <= len(lines) {
			e.Line = strings.TrimRight(lines[e.Pos.Line-1], "\r")
		}
	}
}

// Err returns the list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	s := strings.Join(parts, "\n")
	if len(l) > 1 {
		s = fmt.Sprintf("%d errors:\n%s", len(l), s)
	}
	return s
}
