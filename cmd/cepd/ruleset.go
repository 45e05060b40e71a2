package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
)

// loadRuleSet loads the schema and compiles the rules at path (a directory of rule files
// or one rule file). schemaPath defaults to schema.yaml beside the rules.
func loadRuleSet(path, schemaPath string) (*engine.RuleSet, error) {
	return loadRuleSetWith(path, schemaPath, rules.EnvOptions{})
}

// loadRuleSetWith is loadRuleSet with environment options (the reference evaluation paths
// the tests compare the fast ones with).
func loadRuleSetWith(path, schemaPath string, opts rules.EnvOptions) (*engine.RuleSet, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	dir := path
	if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	schema, err := loadSchema(dir, schemaPath)
	if err != nil {
		return nil, err
	}
	if opts.Data == nil {
		if opts.Data, err = loadDirData(dir); err != nil {
			return nil, err
		}
	}
	env, err := rules.NewEnv(schema, opts)
	if err != nil {
		return nil, fmt.Errorf("rules environment: %w", err)
	}
	reg := rules.NewRegistry()
	var compiled []*rules.Compiled
	if st.IsDir() {
		if compiled, err = rules.LoadDir(path, env, reg); err != nil {
			return nil, err
		}
	} else {
		c, err := compileFile(path, env, reg)
		if err != nil {
			return nil, err
		}
		compiled = []*rules.Compiled{c}
	}
	return &engine.RuleSet{Schema: schema, Rules: compiled, Slots: reg.Slots()}, nil
}

func compileFile(path string, env *rules.Env, reg *rules.Registry) (*rules.Compiled, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, errs := rules.CompileSource(path, data, "", env, reg)
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return c, nil
}

// loadDirData loads the lists and tables of a rules directory (DIR/data) for the
// commands that run rules from files (replay, test, bench, explain).
func loadDirData(dir string) (*refdata.Holder, error) {
	cat, err := refdata.LoadDir(filepath.Join(dir, refdata.DirName))
	if err != nil {
		return nil, err
	}
	return refdata.NewHolder(cat), nil
}

// loadSchema loads the event schema: schemaPath, or schema.yaml in the rule directory.
func loadSchema(rulesDir, schemaPath string) (*event.Schema, error) {
	if schemaPath == "" {
		schemaPath = filepath.Join(rulesDir, "schema.yaml")
	}
	return event.LoadSchema(schemaPath)
}
