// Package service implements the cep.v1 gRPC services over the engine, the versioned rule
// store (rules/store) and the recent-alerts ring. cmd/cepd serves them over gRPC and, through
// grpc-gateway, as REST/JSON.
//
// Rules serialises every change with one mutex: a change compiles the whole new rule set
// first, is stored only if every rule compiles, and is then swapped into the engine at a
// shard barrier (engine.SwapRules). Reads go to the store without that lock. Modes holds
// what the running set is (each rule's mode, the version running) and tells the alert
// pipeline's Trials which shadow trials run; the services only read alerts (the
// pipeline's ring and comparisons), never change them: a candidate's alerts are made as
// shadow alerts of its rule when the set is compiled (rules.Compiled.AlertRuleID, Mode).
// Backtests keeps its jobs in a backtest.Manager; Admin samples the ingest rate.
// Decisions answers POST /v1/decide through the REST ingest's path (a DecideFunc) and
// combines the alerts an event completed (Answer), marking those an analyst's suppression
// holds; Analyst serves suppressions, feedback and precision over an analyst.Book. Lists
// manages the lists and reference tables (store.DataStore) and keeps the refdata.Holder
// the rules read loaded: every change of this instance, and every Reload after another
// instance's change, parses what changed and swaps one new catalog in; it serialises its
// changes with its own mutex and refuses to delete a list its Readers (the running rules)
// read. All are safe for concurrent use.
//
// Roles beyond the per-method table (auth.MethodCapability) are checked here, where the
// rule's state is known: re-creating a deleted rule that was not active, and a rollback
// that would promote a candidate on trial, need the admin role. A gRPC alert stream sends
// from a goroutine of its own so that a reader that does not take an alert within
// Alerts.Stall is disconnected (ResourceExhausted) instead of holding the stream forever;
// ToAlert replaces invalid UTF-8, so no stored alert can break a listing or a stream.
//
// Every service answers an error through statusOf: a status unchanged, its package's
// sentinel errors by a table of codes (storeCodes, listCodes, backtestCodes,
// analystCodes), anything else by the service's own fallback.
package service
