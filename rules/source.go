package rules

import (
	"errors"

	"github.com/cepd/cepd/patterns"
)

// SchemaFile and TestSuffix are patterns' (which decides which files are rules:
// patterns.IsRuleFile), named here for the rule tests' callers.
const (
	SchemaFile = patterns.SchemaFile
	TestSuffix = patterns.TestSuffix
)

// appendErr adds err's problems to l: an ErrorList as it is, another error as one problem
// of the file.
func appendErr(l patterns.ErrorList, file string, err error) patterns.ErrorList {
	var el patterns.ErrorList
	if errors.As(err, &el) {
		return append(l, el...)
	}
	var pe *patterns.Error
	if errors.As(err, &pe) {
		return append(l, pe)
	}
	return append(l, &patterns.Error{File: file, Msg: err.Error()})
}

// CompileSource parses and compiles one rule's text (file names it in errors); every
// problem comes back as a list with its line and column. runID, when not empty, replaces
// the rule's id: the engine runs a shadow candidate of rule x as x@shadow.
func CompileSource(file string, src []byte, runID string, env *Env, reg *Registry) (*Compiled, patterns.ErrorList) {
	r, errs := parseAll(file, src, env)
	if len(errs) > 0 {
		return nil, errs
	}
	if runID != "" {
		r.ID = runID
	}
	c, err := Compile(r, env, reg, WithSource(src))
	if err != nil {
		return nil, appendErr(nil, file, err)
	}
	return c, nil
}

// Errors returns err's problems as a list: an ErrorList as it is, a patterns.Error as one
// problem, another error as one problem of file.
func Errors(file string, err error) patterns.ErrorList { return appendErr(nil, file, err) }

// parseAll parses a rule file. When the rule has problems it still compiles the rule's
// expressions, so every problem of the file comes back at once (a bad id does not hide a
// bad condition); the rule is returned only when it has none.
func parseAll(file string, src []byte, env *Env) (*patterns.Rule, patterns.ErrorList) {
	r, errs := patterns.ParseAll(file, src)
	if len(errs) == 0 {
		return r, nil
	}
	if r != nil {
		seen := make(map[string]bool, len(errs))
		for _, e := range errs {
			seen[e.Error()] = true
		}
		for _, e := range exprErrors(r, env, src) {
			if !seen[e.Error()] {
				errs = append(errs, e)
			}
		}
	}
	errs.Sort()
	return nil, errs
}

// exprErrors compiles the expressions of a rule that has other problems and returns
// theirs. The rule may be malformed in any way: a panic means no more to report.
func exprErrors(r *patterns.Rule, env *Env, src []byte) (errs patterns.ErrorList) {
	defer func() {
		if recover() != nil {
			errs = nil
		}
	}()
	c := &Compiled{Rule: r, env: env, conds: make(map[condKey]*condition)}
	errs = c.compileExprs(nil)
	errs.WithSource(r.Source, src)
	return errs
}
