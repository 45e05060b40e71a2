package main

import (
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/rules"
)

// loadRuleSet loads the schema and compiles the rules at path (a directory of rule files
// or one rule file) with engine.LoadRuleSet. schemaPath defaults to schema.yaml beside the
// rules.
func loadRuleSet(path, schemaPath string) (*engine.RuleSet, error) {
	return loadRuleSetWith(path, schemaPath, rules.EnvOptions{})
}

// loadRuleSetWith is loadRuleSet with environment options (the reference evaluation paths
// the tests compare the fast ones with).
func loadRuleSetWith(path, schemaPath string, opts rules.EnvOptions) (*engine.RuleSet, error) {
	return engine.LoadRuleSet(path, schemaPath, opts)
}
