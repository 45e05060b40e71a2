// Package store keeps rules as versioned text. Every change (create, update,
// rollback, mode change, delete) is a new immutable version with its author, time and
// comment, and an entry in an audit log with the diff it made.
//
// Dir, the directory implementation, keeps the GitOps rule directory the truth: the
// current source of every rule that is not disabled or deleted is <dir>/<file>.yaml,
// exactly what cepd loads at start-up; the history lives beside it under <dir>/.versions:
// per rule, one file per version (<id>/<n>.yaml) and versions.jsonl, the rule's versions
// with their mode, author and comment, one line each, appended by every change (its commit
// point; a torn last line is cut off at open); and audit.jsonl. No change rewrites a file
// of another rule or a whole index: a directory written by an older cepd (one index.json)
// is converted at open and its index kept as index.json.migrated. Comments and authors
// are cut to MaxComment bytes and audit diffs to MaxAuditDiff, so every history line stays
// small (Change.Provenance, which every store uses for the versions of rules, the schema
// and lists alike); readers skip (never fail on) a line longer than 1 MiB. Rule files edited on disk
// become new versions (author "disk") at Refresh.
//
// Rule ids: Create takes the ids a rule may carry (ValidID, patterns.ValidID: up to 64
// characters); the stores read, list, change and delete rules under any id they may hold
// (StoredID: also up to 128 characters, as they took before session 9), so that a rule
// stored then, whose source never compiles, can still be disabled and deleted.
//
// A version keeps its rule's tests (Version.Tests, the ruletest format): a change sets
// them with Change.Tests, or keeps those of the version it starts from (a rollback, those
// of the version it returns to). Dir writes them as <n>.test.yaml beside <n>.yaml in the
// history and, for the current version, as NAME.test.yaml beside the rule file, the file
// cepd test reads; an edit of that file on disk is a new version too. A change its author
// forced past failing tests carries the runner's report (Change.TestsForced) into its
// audit entry. Running the tests is the caller's job (the API runs them before it stores).
//
// # Lists and tables
//
// DataStore keeps the versioned lists and reference tables (package refdata) beside the
// rules: their canonical CSV text and a record per version (kind, entries, digest,
// author, time, comment), an audit log of its own, and a compare-and-set on the newest
// version number (ErrConflict). Dir writes the current text as DIR/data/NAME.KIND.csv,
// the file cepd test and replay read, and the history under .versions/_data/NAME/
// (versions.jsonl, the commit point, and N.csv for the DataVersionsKept newest);
// RefreshData records files edited on disk as versions. storetest.RunData is the
// contract every DataStore passes.
//
// # Schema
//
// SchemaStore keeps the event schema's text beside the rules, versioned (with author,
// time and comment) and audited in the rules' audit log (RuleID SchemaAuditID, with the
// diff), with a compare-and-set on the newest version. Dir's current text is its schema
// file (DirOptions.Schema, DIR/schema.yaml: what cepd loads at start); the history is
// .versions/_schema/versions.jsonl; Refresh records the file edited on disk. Whether a
// schema may replace the running one is the caller's to check (event.Compatible).
//
// The store knows nothing of compiling: callers validate a source before they store it.
// Dir is safe for concurrent use by the goroutines of one process; two processes must not
// share a directory.
package store
