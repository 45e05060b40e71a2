// Package golden compares a test's output with a golden file under testdata, or rewrites
// the file when the test runs with its package's -update flag. The flag stays with each
// test package (a package's tests may give it their own meaning); Check is told its value.
package golden
