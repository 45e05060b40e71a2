// Package testfile writes the files a test reads (rules, schemas, lists) into a
// directory, failing the test on an error: the rule-directory tests of engine, rules/refdata
// and api/service share it.
package testfile
