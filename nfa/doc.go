// Package nfa is cepd's pattern back end: it compiles a patterns.Pattern into an NFA with
// take / ignore / proceed edges (the construction of SASE+ NFA-b and Flink's NFACompiler),
// and runs it per key over a shared buffer that stores each accepted event once and shares
// run prefixes through Dewey-numbered pointers, with Flink CEP's semantics: contiguity,
// quantifiers, greedy, optional, until, negation, within windows, timed-out partial matches
// and after-match skip strategies. A completed match is released at completion or, for
// rules that ask for Flink's order (patterns.InStartOrder), once no partial match that
// started before it is alive; patterns' package documentation gives the exact pruning.
//
// Work per event follows what the event can change: a condition may carry an event-only
// guard (Guarded). Compile finds, per state, the leaves whose falseness leaves a waiting
// run exactly as it is (it runs the matcher's own step with every leaf false). Process
// evaluates the guards once per state its runs wait in; a run in a state they rule out is
// carried over without visiting its edges or touching its shared-buffer entry (the memory
// account is kept incrementally), and Process returns at once when that holds for every
// state. Options.NoGuards is the reference path: every run visited for every event
// (TestGuardedMatchesReference compares the two, runs, versions and account included;
// rules.TestGuardedRulesMatchReference does so for random CEL rules).
//
// A key with nothing live for a rule asks CanStart only when the rule set's StartIndex
// keeps the rule: first by one string field most first steps pin (the event type), then
// by the pins of each rule's start guards (Pinner: a field tested against constants),
// each distinct pin tested once per event for every rule that has it. It only rules out
// what CanStart would find false (rules.TestStartIndexMatchesReference runs random rule
// sets through it against the reference). A StartIndex, unlike a Program, has a
// per-event cache and belongs to one goroutine.
//
// Memory: every matcher keeps an exact account of what it holds (runs, shared-buffer
// entries, Dewey digits, bytes; Usage) and enforces the budget of its Scratch (Budget)
// after every call, cutting the partial matches with the oldest first events. The cuts
// depend only on the matcher's state and events; they are counted in Result.Cut.
//
// Concurrency: a Program is immutable and shared by every shard. A Matcher holds one key's
// runs for one Program and is owned by one goroutine; it is not safe for concurrent use.
// Conditions are an interface (Condition): this package knows nothing of CEL.
package nfa
