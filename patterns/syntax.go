package patterns

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Bounds on the re-parses syntaxError spends locating a YAML error: their number and
// the bytes they read in all.
const (
	maxSyntaxProbes     = 200
	maxSyntaxProbeBytes = 8 << 20
)

// syntaxHints rephrases yaml.v3's messages for analysts.
var syntaxHints = map[string]string{
	"mapping values are not allowed in this context":  "unexpected ':' (check the indentation, or quote text that contains ': ')",
	"did not find expected key":                       "this line does not line up with the keys above it (check the indentation)",
	"did not find expected '-' indicator":             "this line does not line up with the list above it (check the indentation)",
	"found a tab character that violates indentation": "a tab is used for indentation: indent with spaces",
	"found character that cannot start any token":     "unexpected character (quote the value if it starts with @, ` or %)",
	"found unexpected end of stream":                  "the file ends inside a quoted text (a quote is not closed?)",
	"did not find expected ',' or ']'":                "a '[' list is not closed with ']' (or a ',' is missing)",
	"did not find expected ',' or '}'":                "a '{' mapping is not closed with '}' (or a ',' is missing)",
	"could not find expected ':'":                     "expected 'key: value' (check the indentation of a '|' block)",
}

// syntaxError turns a yaml.v3 parse error into a positioned Error. yaml.v3 reports only
// the line of the enclosing construct, so the offending line is found by parsing ever
// longer prefixes of the file until one fails the same way; JSON input is located
// exactly by encoding/json.
func syntaxError(file string, data []byte, err error) *Error {
	line, msg := splitYAMLError(err)
	if trimmed := strings.TrimSpace(string(data)); strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
		if e := jsonError(file, data); e != nil {
			return e
		}
	}
	lines := strings.SplitAfter(string(data), "\n")
	found, read := line, 0
	for k, probes := max(1, line-1), 0; k <= len(lines) && probes < maxSyntaxProbes && read < maxSyntaxProbeBytes; k, probes = k+1, probes+1 {
		prefix := strings.Join(lines[:k], "")
		read += len(prefix)
		if _, m := splitYAMLError(parseYAML([]byte(prefix))); m == msg {
			found = k
			break
		}
	}
	text := msg
	if h, ok := syntaxHints[msg]; ok {
		text = h
	}
	e := &Error{File: file, Msg: "invalid YAML: " + text}
	if found >= 1 && found <= len(lines) {
		e.Pos = Pos{Line: found, Col: syntaxColumn(strings.TrimRight(lines[found-1], "\r\n"), msg)}
	}
	return e
}

// splitYAMLError splits "yaml: line 3: message" into 3 and "message".
func splitYAMLError(err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(s, "line "); ok {
		if num, msg, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				return n, msg
			}
		}
	}
	return 0, s
}

// syntaxColumn guesses the column of a syntax error on line from the kind of error.
func syntaxColumn(line, msg string) int {
	first := len(line) - len(strings.TrimLeft(line, " ")) + 1
	switch msg {
	case "found a tab character that violates indentation":
		if i := strings.IndexByte(line, '\t'); i >= 0 {
			return runeCol(line, i)
		}
	case "found character that cannot start any token":
		if i := strings.IndexAny(line[first-1:], "@`%\t"); i >= 0 {
			return runeCol(line, first-1+i)
		}
	case "mapping values are not allowed in this context":
		if colons := colonPositions(line); len(colons) > 1 {
			return runeCol(line, colons[len(colons)-1])
		}
	}
	return first
}

// colonPositions lists the byte offsets of ':' followed by a space or the line's end.
func colonPositions(line string) []int {
	var out []int
	for i := 0; i < len(line); i++ {
		if line[i] == ':' && (i+1 == len(line) || line[i+1] == ' ') {
			out = append(out, i)
		}
	}
	return out
}

func runeCol(line string, byteOff int) int { return len([]rune(line[:byteOff])) + 1 }

// jsonError locates a JSON syntax error; nil when data is valid JSON.
func jsonError(file string, data []byte) *Error {
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return nil
	}
	off := min(int(se.Offset), len(data))
	if off > 0 && se.Offset > 0 {
		off-- // Offset is just past the offending byte.
	}
	before := string(data[:off])
	line := strings.Count(before, "\n") + 1
	col := len([]rune(before[strings.LastIndexByte(before, '\n')+1:])) + 1
	return &Error{File: file, Pos: Pos{Line: line, Col: col}, Msg: fmt.Sprintf("invalid JSON: %s", se.Error())}
}

// parseYAML parses data into a node tree, turning a yaml.v3 panic into an error.
func parseYAML(data []byte) (err error) {
	var n yaml.Node
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return yaml.Unmarshal(data, &n)
}
