package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
)

// RuleSetBuilder is the one way a RuleSet is built: from rule files (`cepd replay`,
// `cepd bench`, serve's rule directory), from the rule store (the rules service), from a
// backtest's rules or a rule test's rule. It compiles every rule with rules.CompileSource
// and one fresh Registry, keeps every problem of every rule, and refuses two rules with one
// id. Not safe for concurrent use.
type RuleSetBuilder struct {
	schema   *event.Schema
	env      *rules.Env
	reg      *rules.Registry
	out      []*rules.Compiled
	problems patterns.ErrorList
	byID     map[string]string // rule id → the file that has it
}

// NewRuleSetBuilder returns a builder of a rule set over schema, compiling with env
// (built from the same schema).
func NewRuleSetBuilder(schema *event.Schema, env *rules.Env) *RuleSetBuilder {
	return &RuleSetBuilder{schema: schema, env: env, reg: rules.NewRegistry(), byID: map[string]string{}}
}

// Add compiles one rule's source (file names it in errors). runID, when not empty, replaces
// the rule's id (the engine runs a shadow candidate of rule x as x@shadow). It returns the
// compiled rule, or nil when the rule has problems (kept for Build) or its id is already
// used.
func (b *RuleSetBuilder) Add(file string, src []byte, runID string) *rules.Compiled {
	c, errs := rules.CompileSource(file, src, runID, b.env, b.reg)
	if len(errs) > 0 {
		b.problems = append(b.problems, errs...)
		return nil
	}
	if prev, dup := b.byID[c.Rule.ID]; dup {
		b.Problem(file, fmt.Sprintf("rule id %q is already used by %s: rule ids must be unique", c.Rule.ID, prev))
		return nil
	}
	b.byID[c.Rule.ID] = file
	b.out = append(b.out, c)
	return c
}

// AddFile reads the rule file at path and adds it; a file that cannot be read is a
// problem of that file.
func (b *RuleSetBuilder) AddFile(path string) *rules.Compiled {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Problem(path, fmt.Sprintf("cannot read the rule file: %v", err))
		return nil
	}
	return b.Add(path, data, "")
}

// AddDir adds every rule file of dir (patterns.IsRuleFile decides which), in name order.
func (b *RuleSetBuilder) AddDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("rules: read rule directory: %w", err)
	}
	for _, en := range entries {
		if !en.IsDir() && patterns.IsRuleFile(en.Name()) {
			b.AddFile(filepath.Join(dir, en.Name()))
		}
	}
	return nil
}

// Problem records a problem of file that is not the compiler's (an empty or unreadable
// source): Build then fails.
func (b *RuleSetBuilder) Problem(file, msg string) {
	b.problems = append(b.problems, &patterns.Error{File: file, Msg: msg})
}

// Build returns the rule set, its rules sorted by id, or every problem of every rule as a
// patterns.ErrorList (in the order they were found) and no rule set.
func (b *RuleSetBuilder) Build() (*RuleSet, error) {
	if len(b.problems) > 0 {
		return nil, b.problems.Err()
	}
	out := append([]*rules.Compiled(nil), b.out...)
	sort.Slice(out, func(i, j int) bool { return out[i].Rule.ID < out[j].Rule.ID })
	return &RuleSet{Schema: b.schema, Rules: out, Slots: b.reg.Slots()}, nil
}

// LoadRuleSet loads the schema and compiles the rules at path: a directory of rule files
// or one rule file. schemaPath defaults to schema.yaml (patterns.SchemaFile) beside the
// rules; opts are the CEL environment's options. Without opts.Data, the rules read the
// lists and tables of the rule directory (DIR/data, refdata.LoadDir).
func LoadRuleSet(path, schemaPath string, opts rules.EnvOptions) (*RuleSet, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	dir := path
	if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	schema, err := LoadSchema(dir, schemaPath)
	if err != nil {
		return nil, err
	}
	if opts.Data == nil {
		cat, err := refdata.LoadDir(filepath.Join(dir, refdata.DirName))
		if err != nil {
			return nil, err
		}
		opts.Data = refdata.NewHolder(cat)
	}
	env, err := rules.NewEnv(schema, opts)
	if err != nil {
		return nil, fmt.Errorf("rules environment: %w", err)
	}
	b := NewRuleSetBuilder(schema, env)
	if !st.IsDir() {
		b.AddFile(path)
	} else if err := b.AddDir(path); err != nil {
		return nil, err
	}
	return b.Build()
}

// LoadSchema loads the event schema of the rules in rulesDir: schemaPath, or schema.yaml
// (patterns.SchemaFile) in the rule directory.
func LoadSchema(rulesDir, schemaPath string) (*event.Schema, error) {
	if schemaPath == "" {
		schemaPath = filepath.Join(rulesDir, patterns.SchemaFile)
	}
	return event.LoadSchema(schemaPath)
}
