// Package cepd holds what is compiled into the cepd binary besides code: the example
// fraud rule set and its event schema, which cepd runs when no rules are given.
package cepd

import "embed"

// ExampleRules is testdata/fraud: schema.yaml, the fraud rules (*.yaml) and the lists and
// reference tables they read (data/*.csv).
//
//go:embed testdata/fraud/*.yaml testdata/fraud/data/*.csv
var ExampleRules embed.FS

// ExampleRulesDir is the directory of ExampleRules inside the FS.
const ExampleRulesDir = "testdata/fraud"
