// Package testlog holds what tests use to capture a log that several goroutines write:
// Buffer, a bytes.Buffer safe for concurrent use.
package testlog
