package nfa

import "github.com/cepd/cepd/event"

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
	// Cut counts partial (or held complete) matches the memory budget cut, and CutBy
	// names the first limit that made it cut ("version", "nodes", "digits", "bytes").
	Cut   int
	CutBy string
}

// Reset empties r, keeping its capacity.
func (r *Result) Reset() {
	clear(r.Matches)
	clear(r.Timeouts)
	r.Matches = r.Matches[:0]
	r.Timeouts = r.Timeouts[:0]
	r.Dropped = 0
	r.Cut, r.CutBy = 0, ""
}
