// Package cepd holds what is compiled into the cepd binary besides code: the example
// fraud rule set and its event schema, which cepd runs when no rules are given.
package cepd

import "embed"

// ExampleRules is testdata/fraud: schema.yaml and the fraud rules (*.yaml).
//
//go:embed testdata/fraud/*.yaml
var ExampleRules embed.FS

// ExampleRulesDir is the directory of ExampleRules inside the FS.
const ExampleRulesDir = "testdata/fraud"
