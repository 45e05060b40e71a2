package ruletest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
)

// Report is the outcome of every test file run.
type Report struct {
	Results []*Result
	// Errors are test files that could not run: the test file or its rule does not parse
	// or compile, or its events cannot be read. Each counts as one failure.
	Errors []error
	// Untested are rule files found in the directories searched that have no test file.
	Untested []string
}

// Passed and Failed count cases (an error counts as one failed case).
func (r *Report) Passed() int {
	n := 0
	for _, x := range r.Results {
		if x.Passed() {
			n++
		}
	}
	return n
}

// Failed counts failed cases and files that could not run.
func (r *Report) Failed() int { return len(r.Results) - r.Passed() + len(r.Errors) }

// Write prints the report: a FAIL block per failed case with what differs, an error per
// file that could not run, with verbose an "ok" line per passed case, and the
// "N passed, M failed" line.
func (r *Report) Write(w io.Writer, verbose bool) {
	for _, err := range r.Errors {
		fmt.Fprintf(w, "ERROR %v\n", err)
	}
	for _, x := range r.Results {
		if x.Passed() {
			if verbose {
				fmt.Fprintf(w, "ok   %s:%d: %s\n", x.File, x.Pos.Line, x.Case)
			}
			continue
		}
		fmt.Fprintf(w, "FAIL %s:%d: %s\n", x.File, x.Pos.Line, x.Case)
		for _, p := range x.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	for _, u := range r.Untested {
		fmt.Fprintf(w, "no tests: %s (add %s)\n", u, strings.TrimSuffix(u, filepath.Ext(u))+rules.TestSuffix)
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", r.Passed(), r.Failed())
}

// Options configure RunPaths.
type Options struct {
	// SchemaPath is the event schema; "" means schema.yaml in each test file's directory.
	SchemaPath string
	// Run, when set, keeps only the cases whose name it matches.
	Run *regexp.Regexp
}

// RunPaths runs the test files that paths name: a directory means every NAME.test.yaml
// under it (and its rule files without one are listed as untested), a rule file its
// NAME.test.yaml, a test file itself. Each test file tests the rule beside it (LoadRule).
func RunPaths(ctx context.Context, paths []string, o Options) (*Report, error) {
	files, untested, err := discover(paths)
	if err != nil {
		return nil, err
	}
	rep := &Report{Untested: untested}
	envs := map[string]envEntry{} // schema path → environment
	for _, f := range files {
		res, err := runFile(ctx, f, o, envs)
		if err != nil {
			rep.Errors = append(rep.Errors, err)
			continue
		}
		rep.Results = append(rep.Results, res...)
	}
	return rep, nil
}

type envEntry struct {
	schema *event.Schema
	env    *rules.Env
}

func runFile(ctx context.Context, file string, o Options, envs map[string]envEntry) ([]*Result, error) {
	schemaPath := o.SchemaPath
	if schemaPath == "" {
		schemaPath = filepath.Join(filepath.Dir(file), rules.SchemaFile)
	}
	e, ok := envs[schemaPath]
	if !ok {
		schema, err := event.LoadSchema(schemaPath)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		// The lists and tables of the rule's directory (DIR/data), as cepd replay reads them.
		cat, err := refdata.LoadDir(filepath.Join(filepath.Dir(file), refdata.DirName))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		env, err := rules.NewEnv(schema, rules.EnvOptions{Data: refdata.NewHolder(cat)})
		if err != nil {
			return nil, fmt.Errorf("%s: rules environment: %w", file, err)
		}
		e = envEntry{schema, env}
		envs[schemaPath] = e
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	if o.Run != nil {
		s.Cases = slices.DeleteFunc(s.Cases, func(c *Case) bool { return !o.Run.MatchString(c.Name) })
	}
	ruleFile, src, err := LoadRule(file)
	if err != nil {
		return nil, err
	}
	return Run(ctx, s, ruleFile, src, e.schema, e.env)
}

// discover lists the test files paths name, and the rule files without tests in the
// directories among them.
func discover(paths []string) (tests, untested []string, err error) {
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			tests = append(tests, f)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case st.IsDir():
			err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				name := d.Name()
				if d.IsDir() {
					if path != p && strings.HasPrefix(name, ".") {
						return filepath.SkipDir
					}
					return nil
				}
				switch {
				case strings.HasSuffix(name, rules.TestSuffix):
					add(path)
				case patterns.IsRuleFile(name):
					t := strings.TrimSuffix(path, filepath.Ext(path)) + rules.TestSuffix
					if _, err := os.Stat(t); err != nil {
						untested = append(untested, path)
					}
				}
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
		case strings.HasSuffix(p, rules.TestSuffix):
			add(p)
		default:
			t := strings.TrimSuffix(p, filepath.Ext(p)) + rules.TestSuffix
			if _, err := os.Stat(t); err != nil {
				return nil, nil, fmt.Errorf("%s has no tests: write them in %s", p, t)
			}
			add(t)
		}
	}
	sort.Strings(untested)
	return tests, untested, nil
}
