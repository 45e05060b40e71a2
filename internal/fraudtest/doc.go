// Package fraudtest is the shipped fraud rule set (testdata/fraud) as the tests of any
// package find it: its directory, schema file and examples as paths relative to the
// test's working directory (the paths a test would write by hand, so messages naming
// files read the same), the schema loaded, the rule files listed, and alerts written as
// the examples' goldens hold them (as cepd replay writes them), and a draft
// rule that does not compile against its schema (BadDraft). It only reads files;
// every function is safe for concurrent use.
package fraudtest
