package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The directory keeps the schema's current text in its schema file (DirOptions.Schema,
// DIR/schema.yaml by default: what cepd loads at start), and its history in
// DIR/.versions/_schema/ (not a valid rule id): versions.jsonl (one record a line with
// its text, appended: the commit point). An edit of the schema file on disk becomes a
// version at Refresh (action "disk", author "disk").

var _ SchemaStore = (*Dir)(nil)

func (d *Dir) schemaLog() string {
	return filepath.Join(d.dir, historyDir, SchemaAuditID, "versions.jsonl")
}

// schemaVersions reads the schema's versions (nil if none). d.mu is held.
func (d *Dir) schemaVersions() ([]SchemaVersion, error) {
	out, err := readVersionLog(d.schemaLog(), func(v SchemaVersion) int { return v.Version })
	if err != nil {
		return nil, fmt.Errorf("rule store: schema: %w", err)
	}
	return out, nil
}

// GetSchema implements SchemaStore.
func (d *Dir) GetSchema(_ context.Context) (SchemaVersion, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	vs, err := d.schemaVersions()
	if err != nil {
		return SchemaVersion{}, err
	}
	if len(vs) == 0 {
		return SchemaVersion{}, fmt.Errorf("%w: no schema is stored", ErrNotFound)
	}
	return vs[len(vs)-1], nil
}

// SchemaVersions implements SchemaStore.
func (d *Dir) SchemaVersions(_ context.Context) ([]SchemaVersion, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.schemaVersions()
}

// PutSchema implements SchemaStore.
func (d *Dir) PutSchema(_ context.Context, source []byte, expect int, ch Change) (SchemaVersion, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	vs, err := d.schemaVersions()
	if err != nil {
		return SchemaVersion{}, err
	}
	if len(vs) != expect {
		return SchemaVersion{}, fmt.Errorf("%w: the schema is at version %d, not %d", ErrConflict, len(vs), expect)
	}
	action := ActionUpdate
	if expect == 0 {
		action = ActionCreate
	}
	return d.putSchema(vs, source, action, ch, true)
}

// putSchema appends the next version of the schema to its history (vs), writes the
// schema file when live, and the audit entry. d.mu is held.
func (d *Dir) putSchema(vs []SchemaVersion, source []byte, action string, ch Change, live bool) (SchemaVersion, error) {
	v := SchemaVersion{Version: len(vs) + 1, Provenance: ch.Provenance(action, d.now()), Source: source}
	var prev []byte
	if len(vs) > 0 {
		prev = vs[len(vs)-1].Source
	}
	line, err := json.Marshal(v)
	if err != nil {
		return SchemaVersion{}, fmt.Errorf("rule store: schema: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(d.schemaLog()), 0o755); err != nil {
		return SchemaVersion{}, fmt.Errorf("rule store: %w", err)
	}
	var old []byte
	if live {
		if old, err = readOptional(d.schemaPath); err != nil {
			return SchemaVersion{}, err
		}
		if err := writeFile(d.schemaPath, source); err != nil {
			return SchemaVersion{}, err
		}
	}
	undo := func() {
		if live {
			if old == nil {
				_ = os.Remove(d.schemaPath)
			} else {
				_ = writeFile(d.schemaPath, old)
			}
		}
	}
	size, err := appendLine(d.schemaLog(), line)
	if err != nil {
		undo()
		return SchemaVersion{}, fmt.Errorf("rule store: schema: %w", err)
	}
	a := AuditEntry{Provenance: v.Provenance, RuleID: SchemaAuditID, Version: v.Version,
		Diff: Bound(Diff(prev, source), MaxAuditDiff)}
	if err := d.appendAudit(a); err != nil {
		if terr := os.Truncate(d.schemaLog(), size); terr != nil {
			return SchemaVersion{}, fmt.Errorf("%w (and undoing the change failed: %v)", err, terr)
		}
		undo()
		return SchemaVersion{}, err
	}
	return v, nil
}

// refreshSchema records the schema file as a version when it differs from the newest
// one (edited on disk, or never recorded) and reports whether it did. d.mu is held.
func (d *Dir) refreshSchema() (bool, error) {
	src, err := readOptional(d.schemaPath)
	if err != nil || src == nil {
		return false, err
	}
	vs, err := d.schemaVersions()
	if err != nil {
		return false, err
	}
	if len(vs) > 0 && bytes.Equal(vs[len(vs)-1].Source, src) {
		return false, nil
	}
	action, comment := ActionDisk, "the schema file "+filepath.Base(d.schemaPath)+" was edited on disk"
	if len(vs) == 0 {
		action, comment = ActionCreate, "the schema file "+filepath.Base(d.schemaPath)+" as found"
	}
	_, err = d.putSchema(vs, src, action, Change{Author: "disk", Comment: comment}, false)
	return err == nil, err
}
