package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules/refdata"
)

// Mode is how a rule runs.
type Mode string

// Modes.
const (
	Active   Mode = "active"
	Shadow   Mode = "shadow"
	Disabled Mode = "disabled"
)

// Valid reports whether m is one of the modes.
func (m Mode) Valid() bool { return m == Active || m == Shadow || m == Disabled }

// ParseMode reads a mode as a client writes it: "active", "shadow" or "disabled" in any
// letter case ("SHADOW" is "shadow"). Every surface writes modes in lower case.
func ParseMode(s string) (Mode, error) {
	if m := Mode(strings.ToLower(s)); m.Valid() {
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want active, shadow or disabled", s)
}

// Actions recorded on versions and audit entries.
const (
	ActionCreate   = "create"
	ActionUpdate   = "update"
	ActionRollback = "rollback"
	ActionSetMode  = "set_mode"
	ActionDelete   = "delete"
	ActionShadow   = "shadow" // a candidate version put on trial beside the active one
	ActionDisk     = "disk"   // the rule file was edited on disk
)

// Errors. Callers test them with errors.Is.
var (
	ErrNotFound = errors.New("rule not found")
	ErrExists   = errors.New("rule already exists")
	ErrInvalid  = errors.New("invalid argument")
)

// Change says who makes a change and why.
type Change struct {
	Author  string
	Comment string
	// Tests is the text of the rule's test file (the ruletest format of NAME.test.yaml)
	// the new version keeps. nil keeps the tests of the version the change starts from
	// (of version n for a rollback; none for a new rule); an empty non-nil slice removes
	// them.
	Tests []byte
	// TestsForced, when not empty, says that the rule's tests failed and the author
	// forced the change: the runner's report, recorded in the audit entry.
	TestsForced string
}

// NextTests returns the tests a version made by ch from base (the tests of the version
// it starts from) keeps: ch.Tests if set, else base.
func (ch Change) NextTests(base []byte) []byte {
	if ch.Tests != nil {
		return ch.Tests
	}
	return base
}

// Provenance is what a version (of a rule, the schema or a list) records of the change
// that made it: the action, who made it, when, and why.
type Provenance struct {
	Action  string    `json:"action"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
	Comment string    `json:"comment,omitempty"`
}

// Provenance is the provenance of a version that ch makes by action at now: its author and
// comment bounded to MaxComment, the time in UTC.
func (ch Change) Provenance(action string, now time.Time) Provenance {
	return Provenance{Action: action, Author: Bound(ch.Author, MaxComment), Time: now.UTC(), Comment: Bound(ch.Comment, MaxComment)}
}

// Version is one immutable version of a rule.
type Version struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Mode    Mode   `json:"mode"`
	Deleted bool   `json:"deleted,omitempty"`
	// ShadowOf, on a shadow version, is the version whose source keeps running active
	// beside it (a candidate on trial: both run, the candidate's alerts are recorded and
	// compared with the active version's, never delivered). 0: the rule runs in shadow
	// alone.
	ShadowOf int `json:"shadow_of,omitempty"`
	Provenance
	// Source is the rule's text (not in the index: read from the version file).
	Source []byte `json:"-"`
	// Tests is the text of the rule's test file kept with the version (nil if none).
	Tests []byte `json:"-"`
}

// AuditEntry is one change as the audit log records it.
type AuditEntry struct {
	Provenance        // the version's
	RuleID     string `json:"rule_id"`
	Version    int    `json:"version"`
	Diff       string `json:"diff,omitempty"`
	// TestsForced is set when the rule's tests failed and the author forced the change:
	// the test runner's report.
	TestsForced string `json:"tests_forced,omitempty"`
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	RuleID string
	Limit  int // newest first; 0 means all
}

// Store is a versioned rule store. Implementations are safe for concurrent use. A method
// that fails changes nothing. Every successful change returns the new current version.
type Store interface {
	// List returns the current version of every rule not deleted, sorted by id.
	List(ctx context.Context) ([]Version, error)
	// Get returns the current version of a rule (ErrNotFound if none or deleted).
	Get(ctx context.Context, id string) (Version, error)
	// Versions returns every version of a rule, oldest first (deleted rules included).
	Versions(ctx context.Context, id string) ([]Version, error)
	// Version returns version n of a rule.
	Version(ctx context.Context, id string, n int) (Version, error)
	// Create stores version 1 of a new rule (or the next version of a deleted one), active.
	Create(ctx context.Context, id string, source []byte, ch Change) (Version, error)
	// Update stores a new version of an existing rule, keeping its mode and ShadowOf.
	Update(ctx context.Context, id string, source []byte, ch Change) (Version, error)
	// Rollback stores a new version with the source of version n (keeping the mode; on a
	// rule on trial, it ends the trial: active, ShadowOf 0).
	Rollback(ctx context.Context, id string, n int, ch Change) (Version, error)
	// Shadow stores a new version with source as a candidate on trial beside the active
	// version (mode shadow, ShadowOf the active version; a rule already on trial keeps its
	// ShadowOf). ErrInvalid if the rule is neither active nor on trial.
	Shadow(ctx context.Context, id string, source []byte, ch Change) (Version, error)
	// SetMode stores a new version with the same source in another mode. On a rule on trial,
	// active promotes the candidate and disabled ends the trial (ShadowOf 0).
	SetMode(ctx context.Context, id string, m Mode, ch Change) (Version, error)
	// Delete stores a final version marked deleted.
	Delete(ctx context.Context, id string, ch Change) (Version, error)
	// Audit returns audit entries, newest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// ValidID reports whether id can name a new rule (and its file): patterns.ValidID.
func ValidID(id string) bool { return patterns.ValidID(id) }

// StoredID reports whether id may name a rule a store holds: one a new rule may carry
// (ValidID), or a longer one stored before ids were limited to the rule compiler's
// (session 9). Until then a rule id was what still names a list or table
// (refdata.ValidName: the same characters, up to 128 of them), so one check serves both.
// Stores read, list, change and delete rules under such ids, so that one stored then (its
// source never compiles, so it stops every reload while it is active) can still be seen,
// disabled and deleted; Create takes ValidID ids only (TestStoredLongIDs).
func StoredID(id string) bool { return refdata.ValidName(id) }

// State is what a version records besides its source and provenance; stores compute the
// next one with TrialState and ModeChange so that every store follows the same rules.
type State struct {
	Mode     Mode
	Deleted  bool
	ShadowOf int
}

// TrialState returns the state of a candidate put on trial beside cur: mode shadow,
// ShadowOf the active version (kept when cur is on trial already).
func TrialState(cur Version) (State, error) {
	switch {
	case cur.Mode == Shadow && cur.ShadowOf > 0:
		return State{Mode: Shadow, ShadowOf: cur.ShadowOf}, nil
	case cur.Mode == Active:
		return State{Mode: Shadow, ShadowOf: cur.Version}, nil
	}
	return State{}, fmt.Errorf("%w: rule %q is %s: a candidate runs in shadow beside an active version (update the rule instead)", ErrInvalid, cur.ID, cur.Mode)
}

// ModeChange returns the state a mode change of cur to m records: on a rule on trial,
// active promotes the candidate and disabled ends the trial; shadow keeps the trial.
func ModeChange(cur Version, m Mode) State {
	if m == Shadow && cur.ShadowOf > 0 {
		return State{Mode: Shadow, ShadowOf: cur.ShadowOf}
	}
	return State{Mode: m}
}

// RollbackState returns the state a rollback of cur records: the same mode, except that a
// rule on trial ends it (active).
func RollbackState(cur Version) State {
	if cur.ShadowOf > 0 {
		return State{Mode: Active}
	}
	return State{Mode: cur.Mode}
}
