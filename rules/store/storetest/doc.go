// Package storetest is the contract suite of store.Store: Run checks a store against
// what the interface documents, so that every implementation (store.Dir,
// rules/store/redisrules) behaves the same. A store's own test calls
//
//	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//
// and open must return an empty store each time (a new directory, a new Redis prefix).
//
// What it checks: every change (create, update, rollback, shadow, set mode, delete,
// create after delete) as a table of cases, each giving the version recorded or the
// error (ErrNotFound, ErrExists, ErrInvalid, tested with errors.Is), the trial rules of
// store.TrialState, ModeChange and RollbackState; after every case that the store is
// consistent (List, Get, Versions, Version and Audit agree, versions are numbered 1 to
// n, a failed change recorded nothing); the audit log (newest first, filters, authors,
// comments, the exact diffs of store.Diff with the "mode: a -> b" line); 1 MiB
// sources; and concurrency: goroutines updating one rule get distinct consecutive
// versions and lose nothing, goroutines creating one rule see one success.
//
// Run uses only the Store interface and the standard library. Its subtests run one
// after another; the concurrency subtest runs goroutines against one store.
//
// DirWithData is a fixture for tests of a directory store's data files: a new rules
// directory holding one list or table file, opened.
//
// FillCompat and DumpCompat make and read back the stores' compatibility fixtures
// (testdata/compat-* of rules/store and rules/store/redisrules): a rule directory and
// the Redis keys written by the build of commit 7af2de1, before store.Provenance, which
// must read back field by field as that build read them (TestDirReadsOldFormat,
// TestRedisReadsOldFormat).
package storetest
