package nfa

import (
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

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

// StepEvents is the events one step took in a match, oldest first.
type StepEvents struct {
	Step   string
	Events []*event.Event
}

// Match is a complete match (or, in a Timeout, a partial one): for every step that took
// events, in pattern order, the events it took.
type Match struct {
	Steps []StepEvents
}

// Timeout is a partial match discarded because its window closed at At (event time, ms).
type Timeout struct {
	Match
	At int64
}

// Result collects what one Process or Advance call produced. The caller owns it and may
// reuse it (Reset) between calls.
type Result struct {
	Matches  []Match
	Timeouts []Timeout
	// Dropped counts partial matches discarded because the per-key bound was reached.
	Dropped int
}

// Reset empties r, keeping its capacity.
func (r *Result) Reset() {
	clear(r.Matches)
	clear(r.Timeouts)
	r.Matches = r.Matches[:0]
	r.Timeouts = r.Timeouts[:0]
	r.Dropped = 0
}

// Options tune a Program's matchers.
type Options struct {
	// MaxRuns bounds the live partial matches of one key (0 = DefaultMaxRuns). When a new
	// partial match would exceed it, the newest ones are dropped and counted in
	// Result.Dropped.
	MaxRuns int
	// Timeouts asks for timed-out partial matches to be reported.
	Timeouts bool
	// NoGuards evaluates every run's edges for every event, ignoring conditions' event-only
	// guards (Guarded): the slow reference path the guarded one is tested against.
	NoGuards bool
}

// DefaultMaxRuns is the default bound on live partial matches per key and rule.
const DefaultMaxRuns = 10000
