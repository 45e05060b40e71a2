package rulestore

import (
	"context"
	"errors"
	"regexp"
	"time"
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

// Actions recorded on versions and audit entries.
const (
	ActionCreate   = "create"
	ActionUpdate   = "update"
	ActionRollback = "rollback"
	ActionSetMode  = "set_mode"
	ActionDelete   = "delete"
	ActionDisk     = "disk" // the rule file was edited on disk
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
}

// Version is one immutable version of a rule.
type Version struct {
	ID      string    `json:"id"`
	Version int       `json:"version"`
	Mode    Mode      `json:"mode"`
	Deleted bool      `json:"deleted,omitempty"`
	Action  string    `json:"action"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
	Comment string    `json:"comment"`
	// Source is the rule's text (not in the index: read from the version file).
	Source []byte `json:"-"`
}

// AuditEntry is one change as the audit log records it.
type AuditEntry struct {
	Time    time.Time `json:"time"`
	Author  string    `json:"author"`
	Action  string    `json:"action"`
	RuleID  string    `json:"rule_id"`
	Version int       `json:"version"`
	Comment string    `json:"comment,omitempty"`
	Diff    string    `json:"diff,omitempty"`
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
	// Update stores a new version of an existing rule, keeping its mode.
	Update(ctx context.Context, id string, source []byte, ch Change) (Version, error)
	// Rollback stores a new version with the source of version n.
	Rollback(ctx context.Context, id string, n int, ch Change) (Version, error)
	// SetMode stores a new version with the same source in another mode.
	SetMode(ctx context.Context, id string, m Mode, ch Change) (Version, error)
	// Delete stores a final version marked deleted.
	Delete(ctx context.Context, id string, ch Change) (Version, error)
	// Audit returns audit entries, newest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,127}$`)

// ValidID reports whether id can name a rule (and its file).
func ValidID(id string) bool { return idPattern.MatchString(id) }
