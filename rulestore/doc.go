// Package rulestore keeps rules as versioned text. Every change (create, update,
// rollback, mode change, delete) is a new immutable version with its author, time and
// comment, and an entry in an audit log with the diff it made.
//
// Dir, the directory implementation, keeps the GitOps rule directory the truth: the
// current source of every rule that is not disabled or deleted is <dir>/<file>.yaml,
// exactly what cepd loads at start-up; the history lives beside it under <dir>/.versions
// (one file per version, a JSON index with the current version and mode of each rule, and
// audit.jsonl). Rule files edited on disk become new versions (author "disk") at Refresh.
//
// The store knows nothing of compiling: callers validate a source before they store it.
// Dir is safe for concurrent use by the goroutines of one process; two processes must not
// share a directory.
package rulestore
