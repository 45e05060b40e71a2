package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/cepd/cepd/rules/refdata"
)

// The directory keeps each dataset's current text as DIR/data/NAME.KIND.csv (what cepd
// test and cepd replay read, and what an analyst may edit), and its history in
// DIR/.versions/_data/NAME/ (not a valid rule id, so no rule's history can collide with
// it): versions.jsonl (one record a line, appended: the commit
// point) and N.csv (the text of version N, for the DataVersionsKept newest). The audit
// log is DIR/.versions/data-audit.jsonl.

var _ DataStore = (*Dir)(nil)

func (d *Dir) dataDir() string { return filepath.Join(d.dir, refdata.DirName) }

// dataHistoryDir is where, inside the history directory, the datasets' histories live.
const dataHistoryDir = "_data"

func (d *Dir) dataHistory(name string) string {
	return filepath.Join(d.dir, historyDir, dataHistoryDir, name)
}
func (d *Dir) dataAuditPath() string { return filepath.Join(d.dir, historyDir, "data-audit.jsonl") }

// dataVersions reads a dataset's records (nil if it never existed). d.mu is held.
func (d *Dir) dataVersions(name string) ([]DataVersion, error) {
	out, err := readVersionLog(filepath.Join(d.dataHistory(name), "versions.jsonl"), func(v DataVersion) int { return v.Version })
	if err != nil {
		return nil, fmt.Errorf("rule store: %w", err)
	}
	return out, nil
}

// readVersionLog reads a JSON-lines log of versions numbered 1, 2, … (nil if the file
// does not exist); a line that is not the next version (a torn last line after a crash)
// is left out.
func readVersionLog[V any](path string, version func(V) int) ([]V, error) {
	return readJSONLog(path, func(v V, kept int) bool { return version(v) == kept+1 })
}

func (d *Dir) withContent(v DataVersion) (DataVersion, error) {
	b, err := os.ReadFile(filepath.Join(d.dataHistory(v.Name), strconv.Itoa(v.Version)+".csv"))
	if err != nil {
		return DataVersion{}, fmt.Errorf("rule store: dataset %s version %d: %w", v.Name, v.Version, err)
	}
	v.Content = b
	return v, nil
}

// ListData implements DataStore.
func (d *Dir) ListData(_ context.Context) ([]DataVersion, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	ents, err := os.ReadDir(filepath.Join(d.dir, historyDir, dataHistoryDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rule store: %w", err)
	}
	var out []DataVersion
	for _, e := range ents {
		if !e.IsDir() || !refdata.ValidName(e.Name()) {
			continue
		}
		vs, err := d.dataVersions(e.Name())
		if err != nil {
			return nil, err
		}
		if len(vs) == 0 || vs[len(vs)-1].Deleted {
			continue
		}
		v, err := d.withContent(vs[len(vs)-1])
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// GetData implements DataStore.
func (d *Dir) GetData(_ context.Context, name string) (DataVersion, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	vs, err := d.dataVersions(name)
	if err != nil {
		return DataVersion{}, err
	}
	if len(vs) == 0 || vs[len(vs)-1].Deleted {
		return DataVersion{}, fmt.Errorf("%w: list %q", ErrNotFound, name)
	}
	return d.withContent(vs[len(vs)-1])
}

// DataVersions implements DataStore.
func (d *Dir) DataVersions(_ context.Context, name string) ([]DataVersion, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	vs, err := d.dataVersions(name)
	if err == nil && len(vs) == 0 {
		err = fmt.Errorf("%w: list %q", ErrNotFound, name)
	}
	return vs, err
}

// PutData implements DataStore.
func (d *Dir) PutData(_ context.Context, v DataVersion, expect int, ch Change, summary string) (DataVersion, error) {
	if !refdata.ValidName(v.Name) || !refdata.Kind(v.Kind).Valid() {
		return DataVersion{}, fmt.Errorf("%w: list %q of kind %q", ErrInvalid, v.Name, v.Kind)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	vs, err := d.dataVersions(v.Name)
	if err != nil {
		return DataVersion{}, err
	}
	if len(vs) != expect {
		return DataVersion{}, fmt.Errorf("%w: list %q is at version %d, the change was made from %d", ErrConflict, v.Name, len(vs), expect)
	}
	v.Version, v.Provenance = len(vs)+1, ch.Provenance(v.Action, d.now())
	v.Description = Bound(v.Description, MaxComment)
	hist := d.dataHistory(v.Name)
	if err := os.MkdirAll(hist, 0o755); err != nil {
		return DataVersion{}, fmt.Errorf("rule store: %w", err)
	}
	if err := os.MkdirAll(d.dataDir(), 0o755); err != nil {
		return DataVersion{}, fmt.Errorf("rule store: %w", err)
	}
	content := v.Content
	if v.Deleted {
		content = nil
	}
	if err := writeFile(filepath.Join(hist, strconv.Itoa(v.Version)+".csv"), content); err != nil {
		return DataVersion{}, err
	}
	undo, err := d.writeLiveData(vs, v, content)
	if err != nil {
		return DataVersion{}, err
	}
	rec := v
	rec.Content = nil
	line, err := json.Marshal(rec)
	if err != nil {
		undo()
		return DataVersion{}, fmt.Errorf("rule store: %w", err)
	}
	if _, err := appendLine(filepath.Join(hist, "versions.jsonl"), line); err != nil {
		undo()
		return DataVersion{}, fmt.Errorf("rule store: %w", err)
	}
	if old := v.Version - DataVersionsKept; old >= 1 {
		_ = os.Remove(filepath.Join(hist, strconv.Itoa(old)+".csv"))
	}
	a, _ := json.Marshal(DataAuditEntry{Provenance: v.Provenance, Name: v.Name, Version: v.Version,
		Summary: Bound(summary, MaxAuditDiff)})
	if _, err := appendLine(d.dataAuditPath(), a); err != nil {
		return v, fmt.Errorf("rule store: the change is stored but its audit entry is not: %w", err)
	}
	v.Content = content
	return v, nil
}

// writeLiveData makes the live file of list v hold its current text, content (removed on
// deletion; a kind change renames it), vs being the list's versions before v. undo puts
// the live file back as it was, for a change whose history fails to be written.
func (d *Dir) writeLiveData(vs []DataVersion, v DataVersion, content []byte) (undo func(), err error) {
	var prevLive string
	var prevText []byte
	if len(vs) > 0 && !vs[len(vs)-1].Deleted {
		prevLive = filepath.Join(d.dataDir(), refdata.FileName(v.Name, refdata.Kind(vs[len(vs)-1].Kind)))
		prevText, _ = os.ReadFile(prevLive)
	}
	live := filepath.Join(d.dataDir(), refdata.FileName(v.Name, refdata.Kind(v.Kind)))
	undo = func() {
		if prevLive != "" {
			_ = writeFile(prevLive, prevText)
		}
		if live != prevLive && !v.Deleted {
			_ = os.Remove(live)
		}
	}
	if prevLive != "" && (v.Deleted || prevLive != live) {
		if err := os.Remove(prevLive); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("rule store: %w", err)
		}
	}
	if !v.Deleted {
		if err := writeFile(live, content); err != nil {
			undo()
			return nil, err
		}
		// A table edited on disk as JSON lines is kept as CSV from now on.
		_ = os.Remove(filepath.Join(d.dataDir(), v.Name+".table.jsonl"))
	}
	return undo, nil
}

// DataAudit implements DataStore.
func (d *Dir) DataAudit(_ context.Context, name string, limit int) ([]DataAuditEntry, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out, err := readJSONLog(d.dataAuditPath(), func(a DataAuditEntry, _ int) bool { return name == "" || a.Name == name })
	if err != nil {
		return nil, fmt.Errorf("rule store: %w", err)
	}
	return newestFirst(out, limit), nil
}

// RefreshData records dataset files created, edited or removed in DIR/data since the
// store last wrote them as new versions (action "disk", author "disk"), and reports
// whether any was. A file that does not parse is an error and records nothing of it.
func (d *Dir) RefreshData(ctx context.Context) (bool, error) {
	cat, err := refdata.LoadDir(d.dataDir())
	if err != nil {
		return false, err
	}
	cur, err := d.ListData(ctx)
	if err != nil {
		return false, err
	}
	byName := map[string]DataVersion{}
	for _, v := range cur {
		byName[v.Name] = v
	}
	ch := Change{Author: "disk", Comment: "edited on disk"}
	changed := false
	for _, ds := range cat.All() {
		text := refdata.Encode(ds)
		old, ok := byName[ds.Name]
		delete(byName, ds.Name)
		if ok && old.Kind == string(ds.Kind) && bytes.Equal(old.Content, text) {
			continue
		}
		vs, _ := d.DataVersions(ctx, ds.Name)
		v := DataVersion{Name: ds.Name, Kind: string(ds.Kind), Entries: ds.Len(), Digest: ds.Digest, Content: text, Provenance: Provenance{Action: ActionDisk}, Description: old.Description}
		if _, err := d.PutData(ctx, v, len(vs), ch, fmt.Sprintf("%d entries on disk", ds.Len())); err != nil {
			return changed, err
		}
		changed = true
	}
	for _, old := range byName { // listed in the store, its file gone
		vs, _ := d.DataVersions(ctx, old.Name)
		v := DataVersion{Name: old.Name, Kind: old.Kind, Deleted: true, Provenance: Provenance{Action: ActionDisk}}
		if _, err := d.PutData(ctx, v, len(vs), ch, "the file was removed"); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}
