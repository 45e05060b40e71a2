// Package fraudtest is the shipped fraud rule set (testdata/fraud) as the tests of any
// package find it: its directory, schema file and examples as paths relative to the
// test's working directory (the paths a test would write by hand, so messages naming
// files read the same), the schema loaded, and the rule files listed. It only reads
// files; every function is safe for concurrent use.
package fraudtest
