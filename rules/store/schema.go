package store

import (
	"context"
)

// SchemaAuditID is the RuleID of the audit entries of schema changes (Store.Audit lists
// them with the rules'; it is not a valid rule id, so no rule's entries can be confused
// with them).
const SchemaAuditID = "_schema"

// SchemaVersion is one immutable version of the event schema kept with the rules.
type SchemaVersion struct {
	Version int `json:"version"`
	Provenance
	// Source is the schema's text (the schema.yaml format, event.ParseSchema).
	Source []byte `json:"source,omitempty"`
}

// SchemaStore keeps the event schema beside the rules, versioned and audited like them.
// Implementations are safe for concurrent use; a method that fails changes nothing. The
// store never parses the text: whether a schema may replace the running one is the
// caller's to decide (event.Compatible, and the rules compiled against it).
type SchemaStore interface {
	// GetSchema returns the current schema with its text (ErrNotFound if none is stored).
	GetSchema(ctx context.Context) (SchemaVersion, error)
	// SchemaVersions returns every version of the schema, oldest first, with their text.
	SchemaVersions(ctx context.Context) ([]SchemaVersion, error)
	// PutSchema stores source as the next version of the schema if its newest version is
	// still expect (0: none stored), else ErrConflict; the audit entry (RuleID
	// SchemaAuditID) carries the diff from the previous text.
	PutSchema(ctx context.Context, source []byte, expect int, ch Change) (SchemaVersion, error)
}
