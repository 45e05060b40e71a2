// Package rules compiles cepd's fraud rules: the CEL environment built from the event
// schema, the analysts' helper functions, cost limits, fast evaluation of conditions,
// and loading a directory of rule files into compiled rules.
//
// # Environment
//
// NewEnv(schema) declares `e`, the current event, as the object type cepd.Event whose
// fields have the schema's types (int, double, string, bool, google.protobuf.Timestamp;
// dyn for fields of type any), so misspelt fields and type errors are compile errors, and
// `match`, a map from step name to the list of events that step has taken in the partial
// match (Flink's iterative conditions; match['b*'] works for any name), and `agg`, the
// values of the rule's velocity aggregates for the current event (map(string, dyn):
// agg.NAME; a name the rule does not declare is a compile error with a did-you-mean).
// NewDynamicEnv is
// the schema-less variant of the conformance corpus: `e` is a map(string, dyn). Both read
// the same runtime event.Event: a missing field is absent (has() is false, reading it is
// a "no such key" error). Orderings compare int with double; helpers are sum, avg, min,
// max, count, distinct, first, last, geo_km and hours/minutes/seconds_between, each with
// its signature, meaning and an example in Helpers (README.md shows them as a table).
// in_list, ref and lookup read the lists and reference tables of EnvOptions.Data
// (package refdata) at each call; a rule naming a dataset the holder lacks does not
// compile.
//
// # Errors
//
// Every problem of a rule file comes back at once as a patterns.ErrorList, each at its
// file:line:col with the source line and a caret: the YAML-level problems of
// patterns.ParseAll and the problems of every expression, even when the id or another
// field is bad. cel-go's messages are rewritten in the rule's terms (issues.go): a type
// mismatch names the sub-expressions and their types ("e.amount is a double; 'x' is a
// string"), a syntax error says what was expected after which token, a helper misused
// quotes its signature and points at the wrong argument, and a duration or timestamp
// literal that does not parse is pointed at itself. rules/testdata/errors.golden holds
// the message of each kind of mistake.
//
// # Velocity aggregates
//
// A rule's aggregates (patterns.Aggregate) compile to Aggregate: the field indexes, the
// velocity.Spec and the where condition (event-only, memoised like any). The engine keeps
// the windows per key (package velocity), calls Observe for each of the key's events
// before matching it, and hands the values to the rule's conditions as nfa.Scratch.Aux (a
// *Aggregates). agg.NAME compiles to a closure reading that value. An expression reading
// agg is never memoised, shared between rules or used as an event-only guard: its value
// is the rule's own, per key. The fingerprint covers the aggregates and the rearm policy,
// so changing them starts the rule (and its windows) fresh.
//
// # Evaluation
//
// Every expression's worst-case cost is estimated at compile time (match steps assumed
// to hold up to EnvOptions.MaxMatchEvents events) and rejected above the ceiling;
// interpreted expressions with comprehensions also carry a runtime cost limit. Conditions
// (nfa.Condition) run as Go closures compiled from the checked AST for the common shapes
// (comparisons, constant sets, presence, string tests, arithmetic, logic, aggregates over
// a step, x in match.s.map(y, y.f), timestamp differences, geo_km and the *_between
// helpers, in_list and lookup with quoted names), with the CEL interpreter for the rest,
// or for some terms of a && / || chain ("hybrid"). Both compute the same values and
// errors; FuzzClosureVsInterpreter and TestDataClosuresMatchInterpreter check it.
// first(match.s) is the run's start event, read without walking the shared buffer, when
// every match of the rule starts in step s (nfa.EvalContext.StartEvent). An evaluation error makes a condition false and is counted per rule. Conditions
// that do not read match share memo slots across the rules of a Registry, so each is
// evaluated once per event.
//
// A condition that reads match has an event-only guard (nfa.Guarded): the && of the terms
// of its top-level && chain that read only the event, memoised per event like the
// conditions above. When it is false the condition is false whatever the partial match,
// and the matcher skips the runs it rules out without evaluating anything for each.
// EnvOptions.NoClosures and NoGuards give the slow reference paths the tests compare with.
//
// # Concurrency
//
// Env, Registry, Compiled and the conditions are safe for concurrent use. Env and
// Compiled are immutable once built; a Compiled rule's only mutable parts are its atomic
// error counters (and the closures' atomic per-schema field-index caches). A Registry is
// mutated (under its lock) only while rules are compiled. Nothing here starts goroutines
// or keeps global mutable state.
package rules
