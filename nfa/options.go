package nfa

import "github.com/cepd/cepd/patterns"

// What Compile takes beside the pattern: a Resolver for the steps' expressions and the
// Options of the Program's matchers.

// CondKind says which expression of a step a Resolver is asked for.
type CondKind uint8

// Condition kinds.
const (
	CondWhere CondKind = iota // the step's where (for a negation: the forbidden event)
	CondUntil                 // the step's until (looping steps and groups)
)

// Resolver turns a step's expression into a Condition. It is called once per expression
// during Compile; a nil Condition with a nil error means "always true" (no expression).
type Resolver func(step *patterns.Step, kind CondKind) (Condition, error)

// Options tune a Program's matchers.
type Options struct {
	// MaxRuns bounds the live partial matches of one key (0 = DefaultMaxRuns). When a new
	// partial match would exceed it, the newest ones are dropped and counted in
	// Result.Dropped.
	MaxRuns int
	// Timeouts asks for timed-out partial matches to be reported.
	Timeouts bool
	// NoGuards evaluates every run's edges for every event, ignoring conditions' event-only
	// guards (Guarded), and ends every Process step in full even when it left every run
	// as it was (Matcher.unchanged): the slow reference path the fast one is tested
	// against.
	NoGuards bool
}

// DefaultMaxRuns is the default bound on live partial matches per key and rule.
const DefaultMaxRuns = 10000
