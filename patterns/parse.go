package patterns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest rule file Parse accepts (1 MiB).
const MaxFileSize = 1 << 20

// ParseFile reads and parses the rule file at path; errors name the file as path.
func ParseFile(path string) (*Rule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read rule file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read rule file %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse parses one rule from YAML (or JSON, which is YAML) and validates it. file names
// the source in error messages. On any problem it returns a nil Rule and an ErrorList
// holding every problem found, sorted, each with its source line for a caret display.
func Parse(file string, data []byte) (*Rule, error) {
	if len(data) > MaxFileSize {
		return nil, ErrorList{{File: file, Msg: fmt.Sprintf(
			"rule file is too large (more than %d bytes; the limit is 1 MiB)", MaxFileSize)}}
	}
	r, errs := parse(file, data)
	if len(errs) > 0 {
		errs.WithSource(file, data)
		return nil, errs.Err()
	}
	return r, nil
}

// parse decodes and validates; it returns the problems found rather than an error.
func parse(file string, data []byte) (*Rule, ErrorList) {
	root, errs := document(file, data)
	if len(errs) > 0 {
		return nil, errs
	}
	d := &decoder{file: file, lines: strings.Split(string(data), "\n"), meta: meta{}}
	for i, l := range d.lines {
		d.lines[i] = strings.TrimRight(l, "\r")
	}
	r := d.rule(root)
	errs = append(d.errs, validate(r, d.meta, true)...)
	return r, errs // r as decoded, even with problems: ParseAll compiles what it can
}

// ParseAll is Parse that also returns the rule as decoded when it has problems (nil only
// when the file is not one YAML document), so that a compiler can add the problems of
// its expressions to the list: a bad id must not hide a bad condition. A rule returned
// with problems must not be run.
func ParseAll(file string, data []byte) (*Rule, ErrorList) {
	if len(data) > MaxFileSize {
		_, err := Parse(file, data)
		return nil, err.(ErrorList)
	}
	r, errs := parse(file, data)
	if len(errs) > 0 {
		errs.WithSource(file, data)
	}
	return r, errs
}

// document parses data into the root node of its single YAML document, reporting
// syntax errors, a missing or second document, and aliases.
func document(file string, data []byte) (root *yaml.Node, errs ErrorList) {
	defer func() {
		if p := recover(); p != nil {
			root, errs = nil, ErrorList{{File: file, Msg: fmt.Sprintf("invalid YAML: %v", p)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrorList{{File: file, Msg: "rule file is empty: expected a rule (id: ..., pattern: ...)"}}
		}
		return nil, ErrorList{syntaxError(file, data, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		errs.Add(file, nodePos(&next), "a rule file holds one rule: remove this second YAML document (after '---')")
	case !errors.Is(err, io.EOF):
		errs = append(errs, syntaxError(file, data, err))
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		errs.Add(file, Pos{}, "rule file is empty: expected a rule (id: ..., pattern: ...)")
		return nil, errs
	}
	root = doc.Content[0]
	checkAliases(file, root, &errs)
	if root.Kind != yaml.MappingNode {
		errs.Add(file, nodePos(root), "a rule must be a mapping of keys (id: ..., pattern: ...), not %s", kindName(root))
	}
	return root, errs
}

// checkAliases reports every alias (*name): rule files are read literally, so that
// what the analyst sees at a step is all there is to it.
func checkAliases(file string, n *yaml.Node, errs *ErrorList) {
	if n.Kind == yaml.AliasNode {
		errs.Add(file, nodePos(n), "YAML aliases (*%s) are not supported in rule files: write the value out", n.Value)
		return
	}
	for _, c := range n.Content {
		checkAliases(file, c, errs)
	}
}
