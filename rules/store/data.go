package store

import (
	"context"
	"errors"
)

// ErrConflict is returned by PutData when the dataset changed since the version the
// change was computed from (another writer came first: read it again and retry).
var ErrConflict = errors.New("changed concurrently")

// DataVersionsKept is how many of a dataset's newest versions keep their content. Older
// versions keep their record (who, when, why, how many entries, digest) but not their
// entries: a 1M-entry list is about 15 MB of text a version.
const DataVersionsKept = 5

// Data actions recorded on versions and audit entries (besides ActionCreate,
// ActionUpdate, ActionDelete and ActionDisk).
const (
	ActionImport = "import"
	ActionAdd    = "add"
	ActionRemove = "remove"
)

// DataVersion is one immutable version of a list or reference table (package refdata).
// The store keeps its text and record; it never parses the text (the caller computes
// Entries and Digest with refdata).
type DataVersion struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Version     int    `json:"version"`
	Deleted     bool   `json:"deleted,omitempty"`
	Entries     int    `json:"entries"`
	Digest      string `json:"digest,omitempty"`
	Description string `json:"description,omitempty"`
	Provenance
	// Content is the canonical CSV text (refdata.Encode); nil in listings of versions
	// and for versions older than the DataVersionsKept newest.
	Content []byte `json:"-"`
}

// DataAuditEntry is one change of a dataset as the lists' audit log records it.
type DataAuditEntry struct {
	Provenance        // the version's
	Name       string `json:"name"`
	Version    int    `json:"version"`
	// Summary says what changed (entries before and after, values added and removed).
	Summary string `json:"summary,omitempty"`
}

// DataStore keeps the versioned lists and tables beside the rules. Implementations are
// safe for concurrent use; a method that fails changes nothing.
type DataStore interface {
	// ListData returns the current version, with content, of every dataset not deleted,
	// sorted by name.
	ListData(ctx context.Context) ([]DataVersion, error)
	// GetData returns the current version of a dataset with its content (ErrNotFound if
	// none or deleted).
	GetData(ctx context.Context, name string) (DataVersion, error)
	// DataVersions returns every version of a dataset, oldest first, without content
	// (ErrNotFound if it never existed).
	DataVersions(ctx context.Context, name string) ([]DataVersion, error)
	// PutData stores v (Name, Kind, Content, Entries, Digest, Description, Action,
	// Deleted) as the next version of its dataset, if its newest version (deleted or
	// not; 0 for none) is still expect, else ErrConflict. summary goes to the audit log.
	PutData(ctx context.Context, v DataVersion, expect int, ch Change, summary string) (DataVersion, error)
	// DataAudit returns the datasets' audit entries (of name, or all when name is
	// empty), newest first, at most limit (0: all).
	DataAudit(ctx context.Context, name string, limit int) ([]DataAuditEntry, error)
}
