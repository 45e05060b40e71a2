package patterns

import "strings"

// Pos is a position in a rule file (1-based). The zero Pos means "unknown".
type Pos struct {
	Line, Col int
}

// Src locates an embedded expression (CEL) in its file so that errors inside it can be
// reported in file coordinates. Its first character is at Pos. For a YAML literal block
// scalar (|), expression line n > 1 starts at line Pos.Line+n-1, column Indent; Indent 0
// means the expression is a single line (or its line structure was folded away).
type Src struct {
	Pos    Pos
	Indent int
}

// Map converts a 1-based line and column inside the expression to file coordinates.
func (s Src) Map(line, col int) Pos {
	if s.Pos.Line == 0 {
		return Pos{Line: line, Col: col}
	}
	if line <= 1 || s.Indent == 0 {
		return Pos{Line: s.Pos.Line, Col: s.Pos.Col + col - 1}
	}
	return Pos{Line: s.Pos.Line + line - 1, Col: s.Indent + col - 1}
}

// Contiguity says how a step relates to the event before it (Flink's consuming strategy).
type Contiguity uint8

// Contiguities. ContiguityDefault is "not written": relaxed for steps and for repeats.
const (
	ContiguityDefault Contiguity = iota
	Strict                       // next(): the very next event of the key
	Relaxed                      // followedBy(): skip events that do not match
	Any                          // followedByAny(): non-deterministic, every later match
)

// Negation marks a step as forbidding its event.
type Negation uint8

// Negations.
const (
	NotNegated    Negation = iota
	NotNext                // the event right after the previous step must not match
	NotFollowedBy          // no matching event before the next step's event
)

// WithinType says what a window bounds.
type WithinType uint8

// Window kinds.
const (
	FirstAndLast       WithinType = iota // first event of the match to the last
	PreviousAndCurrent                   // gap between consecutive events
)

// SkipKind is an after-match skip strategy.
type SkipKind uint8

// Skip strategies (Flink's AfterMatchSkipStrategy).
const (
	NoSkip SkipKind = iota
	SkipToNext
	SkipPastLastEvent
	SkipToFirst
	SkipToLast
)

// Skip is the after-match skip strategy; Step names the step for SkipToFirst/SkipToLast.
type Skip struct {
	Kind SkipKind
	Step string
	Pos  Pos
}

// Release says when a completed match leaves the matcher, as an alert. It matters only
// with an after-match skip strategy: without one every match leaves at completion.
type Release uint8

// Releases.
const (
	// AtCompletion (the default) releases a match with the event (or the watermark, for
	// a trailing notFollowedBy) that completes it. Its skip strategy prunes only what
	// started at or after the match's first event; a partial match that started earlier
	// is left alone and is released, in its turn, when it completes.
	AtCompletion Release = iota
	// InStartOrder is Flink CEP's order: a completed match is held until every partial
	// match that started before it has completed or expired, so matches leave in the
	// order of their first events (FLINK-15873's delay included).
	InStartOrder
)

// Quantifier says how many events a step (or group) takes.
type Quantifier struct {
	// Min is the least number of repetitions (≥ 1; a written 0 is stored as Min 1 with
	// Optional set, as Flink's times(0, n) is times(1, n).optional()).
	Min int
	// Max is the most repetitions; -1 means unbounded (oneOrMore / timesOrMore).
	Max      int
	Optional bool
	Greedy   bool
	// Inner is the contiguity between repetitions (default relaxed).
	Inner Contiguity
	// WindowMs bounds the time between repetitions (Flink's times(n, windowTime)); 0 = none.
	WindowMs int64
	Pos      Pos
}

// Looping reports whether the quantifier is unbounded.
func (q *Quantifier) Looping() bool { return q != nil && q.Max < 0 }

// Step is one step of a pattern: a single event condition, a negation, or a group.
type Step struct {
	Name string
	// Contiguity to the previous step; ignored on the first step of a sequence.
	Contiguity Contiguity
	// Where is the CEL condition ("" = every event matches). Not used on groups.
	Where string
	// Until is the CEL stop condition of a looping step or group ("" = none).
	Until string
	// Quantifier is nil for "exactly one".
	Quantifier *Quantifier
	Negation   Negation
	// Group holds the inner steps of a group step (nil for a plain step).
	Group []*Step
	// WithinMs, when > 0, bounds the gap between this step's event and the previous
	// event of the match (Flink's within(t, PREVIOUS_AND_CURRENT) declared on this step).
	WithinMs int64

	Pos      Pos // position of the step in the file
	WhereSrc Src // where the where expression stands in the file
	UntilSrc Src
}

// IsGroup reports whether the step is a group.
func (s *Step) IsGroup() bool { return s.Group != nil }

// Pattern is a sequence of steps plus the options that apply to the whole match.
type Pattern struct {
	Steps []*Step
	// WithinMs, when > 0, bounds the match; WithinType says how.
	WithinMs   int64
	WithinType WithinType
	Skip       Skip
	// Release says when a completed match leaves (AtCompletion unless written).
	Release Release
}

// Emit is a named CEL expression whose value goes into an alert.
type Emit struct {
	Name string
	Expr string
	Src  Src
}

// Rule is one fraud rule as an analyst writes it.
type Rule struct {
	ID          string
	Name        string
	Description string
	Severity    string // one of low, medium, high, critical
	Owner       string
	Tags        []string
	// Key names the schema field the rule is evaluated per (defaults to the schema's key),
	// as written: "device_id" or "e.device_id" (KeyField reads both). A rule keyed by
	// another field than the schema's runs in that field's key space: each event is
	// matched once per key space it has a value for (engine.KeySpaces).
	Key string
	// KeyPos is where the key's value is written (zero when the rule does not say).
	KeyPos  Pos
	Pattern Pattern
	// Aggregates are the rule's velocity aggregates (agg.NAME in its expressions).
	Aggregates []*Aggregate
	// Rearm says when the rule may alert again for a key after an alert.
	Rearm Rearm
	Emit  []Emit
	// Timeouts asks for alerts of kind "timeout" for partial matches that expire.
	Timeouts bool
	// CooldownMs, when > 0, suppresses the rule's alerts for a key within that much event
	// time after its last alert for the key (the engine keeps it with the key's state).
	CooldownMs int64
	// Decision is what the rule's alerts contribute to an inline decision; nil: review
	// with score 0.
	Decision *Decision
	// Source is the file the rule came from (for messages), "" if none.
	Source string
}

// KeyField returns the field the rule is keyed by as Key names it ("e.device_id" and
// "device_id" are both device_id), "" when the rule does not say.
func (r *Rule) KeyField() string { return strings.TrimPrefix(r.Key, "e.") }

// Walk calls fn for every step of steps in order, descending into groups (a group
// before its inner steps).
func Walk(steps []*Step, fn func(s *Step)) {
	for _, s := range steps {
		fn(s)
		if s.Group != nil {
			Walk(s.Group, fn)
		}
	}
}

// StepNames returns the names of every step that can take events (groups excluded,
// negations included), in order.
func (p *Pattern) StepNames() []string {
	var names []string
	Walk(p.Steps, func(s *Step) {
		if !s.IsGroup() {
			names = append(names, s.Name)
		}
	})
	return names
}
