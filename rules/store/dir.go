package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cepd/cepd/patterns"
)

// historyDir is the directory, inside the rule directory, of versions, index and audit.
const historyDir = ".versions"

// Dir is the directory Store. See the package documentation for the layout.
type Dir struct {
	dir  string
	now  func() time.Time
	mu   sync.RWMutex
	idx  index
	skip map[string]bool // file names in dir that are not rules (the schema)
	// schemaPath is the event schema's file (DirOptions.Schema).
	schemaPath string
}

type index struct {
	Rules map[string]*entry `json:"rules"`
}

type entry struct {
	File     string    `json:"file"` // the rule's file name in the directory
	Versions []Version `json:"versions"`
}

func (e *entry) cur() Version { return e.Versions[len(e.Versions)-1] }

// DirOptions configures OpenDir.
type DirOptions struct {
	// Skip lists file names of the directory that are not rules (default schema.yaml).
	Skip []string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Schema is the event schema's file, kept as the store's schema (SchemaStore;
	// default DIR/schema.yaml).
	Schema string
}

// OpenDir opens (creating its history if needed) the rule directory dir and records the
// rule files found there that the history does not know yet (Refresh).
func OpenDir(dir string, o DirOptions) (*Dir, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.Skip) == 0 {
		o.Skip = []string{patterns.SchemaFile}
	}
	if o.Schema == "" {
		o.Schema = filepath.Join(dir, patterns.SchemaFile)
	}
	d := &Dir{dir: dir, now: o.Now, skip: map[string]bool{}, idx: index{Rules: map[string]*entry{}}, schemaPath: o.Schema}
	for _, s := range o.Skip {
		d.skip[s] = true
	}
	if err := os.MkdirAll(filepath.Join(dir, historyDir), 0o755); err != nil {
		return nil, fmt.Errorf("rule store: %w", err)
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	if _, err := d.Refresh(context.Background()); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Dir) indexPath() string { return filepath.Join(d.dir, historyDir, "index.json") }
func (d *Dir) logPath(id string) string {
	return filepath.Join(d.dir, historyDir, id, "versions.jsonl")
}
func (d *Dir) auditPath() string { return filepath.Join(d.dir, historyDir, "audit.jsonl") }
func (d *Dir) versionPath(id string, n int) string {
	return filepath.Join(d.dir, historyDir, id, strconv.Itoa(n)+".yaml")
}

// testsPath is the file of the tests kept with version n (absent: none).
func (d *Dir) testsPath(id string, n int) string {
	return filepath.Join(d.dir, historyDir, id, strconv.Itoa(n)+patterns.TestSuffix)
}

// liveTestsPath is the test file beside the rule file named file, the one cepd test
// reads: NAME.test.yaml for NAME.yaml.
func (d *Dir) liveTestsPath(file string) string {
	return filepath.Join(d.dir, strings.TrimSuffix(file, filepath.Ext(file))+patterns.TestSuffix)
}

// readOptional reads path; a missing file is empty (nil).
func readOptional(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rule store: %w", err)
	}
	return b, nil
}

// Refresh records rule files created, edited or removed on disk since the store last
// wrote them as new versions (action "disk", author "disk") and reports whether any was.
// A file whose id no store may hold (StoredID) is ignored. The schema
// file edited on disk is recorded the same way (refreshSchema).
func (d *Dir) Refresh(ctx context.Context) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	changed, err := d.refreshSchema()
	if err != nil {
		return false, err
	}
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return changed, fmt.Errorf("rule store: %w", err)
	}
	onDisk := map[string]bool{}
	ch := Change{Author: "disk", Comment: "edited on disk"}
	for _, en := range ents {
		name := en.Name()
		if en.IsDir() || d.skip[name] || !patterns.IsRuleFile(name) {
			continue
		}
		src, err := os.ReadFile(filepath.Join(d.dir, name))
		if err != nil {
			return changed, fmt.Errorf("rule store: %w", err)
		}
		id := ruleID(src)
		if !StoredID(id) || onDisk[id] {
			continue
		}
		onDisk[id] = true
		// The test file beside the rule is part of what is on disk: an edit of either
		// is a new version, and a missing one means no tests.
		tests, err := readOptional(d.liveTestsPath(name))
		if err != nil {
			return changed, err
		}
		if tests == nil {
			tests = []byte{}
		}
		ch.Tests = tests
		e := d.idx.Rules[id]
		if e != nil {
			cur := e.cur()
			if !cur.Deleted && cur.Mode != Disabled {
				old, err := os.ReadFile(d.versionPath(id, cur.Version))
				oldTests, terr := readOptional(d.testsPath(id, cur.Version))
				if err == nil && terr == nil && bytes.Equal(old, src) && bytes.Equal(oldTests, tests) && e.File == name {
					continue
				}
			}
			e.File = name
			st := State{Mode: cur.Mode, ShadowOf: cur.ShadowOf}
			if cur.Deleted || cur.Mode == Disabled {
				st = State{Mode: Active}
			}
			if _, err := d.apply(id, src, st, ActionDisk, ch); err != nil {
				return changed, err
			}
		} else {
			d.idx.Rules[id] = &entry{File: name}
			if _, err := d.apply(id, src, State{Mode: Active}, ActionDisk, ch); err != nil {
				delete(d.idx.Rules, id)
				return changed, err
			}
		}
		changed = true
	}
	for id, e := range d.idx.Rules {
		cur := e.cur()
		if onDisk[id] || cur.Deleted || cur.Mode == Disabled {
			continue
		}
		src, _ := os.ReadFile(d.versionPath(id, cur.Version))
		ch.Tests = nil // a deletion keeps the tests of the version deleted
		if _, err := d.apply(id, src, State{Mode: cur.Mode, Deleted: true}, ActionDisk, ch); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, nil
}

// ruleID reads the top-level id of a rule's YAML (or JSON) text; "" if it has none.
func ruleID(src []byte) string {
	var r struct {
		ID string `yaml:"id"`
	}
	if yaml.Unmarshal(src, &r) != nil {
		return ""
	}
	return r.ID
}

// apply records a new version of rule id (its entry exists) and makes the directory
// reflect it. d.mu is held.
func (d *Dir) apply(id string, src []byte, st State, action string, ch Change) (Version, error) {
	mode, deleted := st.Mode, st.Deleted
	e := d.idx.Rules[id]
	n, prev, prevTests, err := d.previous(id, e, action)
	if err != nil {
		return Version{}, err
	}
	tests := ch.NextTests(prevTests)
	if len(tests) == 0 {
		tests = nil
	}
	v := Version{ID: id, Version: n, Mode: mode, Deleted: deleted, Provenance: ch.Provenance(action, d.now()),
		Source: src, Tests: tests, ShadowOf: st.ShadowOf}
	if err := os.MkdirAll(filepath.Dir(d.versionPath(id, n)), 0o755); err != nil {
		return Version{}, fmt.Errorf("rule store: %w", err)
	}
	if err := writeFile(d.versionPath(id, n), src); err != nil {
		return Version{}, err
	}
	if tests != nil {
		if err := writeFile(d.testsPath(id, n), tests); err != nil {
			return Version{}, err
		}
	}
	undo, err := d.writeLive(e.File, src, tests, deleted || mode == Disabled)
	if err != nil {
		return Version{}, err
	}
	undoLog, err := d.appendVersion(e.File, v)
	if err != nil {
		undo()
		return Version{}, err
	}
	e.Versions = append(e.Versions, v)
	var after []byte
	if !deleted {
		after = src
	}
	diff := Diff(prev, after)
	if len(e.Versions) > 1 && e.Versions[len(e.Versions)-2].Mode != mode {
		diff = fmt.Sprintf("mode: %s -> %s\n", e.Versions[len(e.Versions)-2].Mode, mode) + diff
	}
	a := AuditEntry{Provenance: v.Provenance, RuleID: id, Version: n, Diff: Bound(diff, MaxAuditDiff),
		TestsForced: Bound(ch.TestsForced, MaxAuditDiff)}
	if err := d.appendAudit(a); err != nil {
		e.Versions = e.Versions[:len(e.Versions)-1]
		if uerr := undoLog(); uerr != nil {
			return Version{}, fmt.Errorf("%w (and undoing the change failed: %v)", err, uerr)
		}
		undo()
		return Version{}, err
	}
	return v, nil
}

// previous returns the number the next version of rule id (entry e) gets, the source of
// its current version (nil if deleted) and the tests it keeps: none for a rule created
// again after its deletion.
func (d *Dir) previous(id string, e *entry, action string) (n int, prev, prevTests []byte, err error) {
	if len(e.Versions) == 0 {
		return 1, nil, nil, nil
	}
	cur := e.cur()
	if !cur.Deleted {
		prev, _ = os.ReadFile(d.versionPath(id, cur.Version))
	}
	if prevTests, err = readOptional(d.testsPath(id, cur.Version)); err != nil {
		return 0, nil, nil, err
	}
	if cur.Deleted && action != ActionDelete && action != ActionDisk {
		prevTests = nil // a rule created again starts without the deleted rule's tests
	}
	return cur.Version + 1, prev, prevTests, nil
}

// writeLive writes the live rule file (file, in the directory) and its test file, or
// removes both when remove is set (a deleted or disabled rule). It returns undo, which
// puts both back as they were; on error it has already undone what it wrote.
func (d *Dir) writeLive(file string, src, tests []byte, remove bool) (undo func(), err error) {
	live, liveTests := filepath.Join(d.dir, file), d.liveTestsPath(file)
	// undo puts the rule file and its test file back as they were: a change that fails
	// changes nothing.
	liveBefore, liveErr := os.ReadFile(live)
	testsBefore, testsErr := os.ReadFile(liveTests)
	undo = func() {
		_ = setFile(live, liveBefore, liveErr == nil)
		_ = setFile(liveTests, testsBefore, testsErr == nil)
	}
	if err := setFile(live, src, !remove); err != nil {
		undo()
		return nil, err
	}
	if err := setFile(liveTests, tests, !remove && tests != nil); err != nil {
		undo()
		return nil, err
	}
	return undo, nil
}

// setFile writes data to the file at path when keep is set, and removes the file
// otherwise (a file already absent is no error).
func setFile(path string, data []byte, keep bool) error {
	if keep {
		return writeFile(path, data)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("rule store: %w", err)
	}
	return nil
}

func (d *Dir) appendAudit(a AuditEntry) error {
	line, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = appendLine(d.auditPath(), line)
	if err != nil {
		return fmt.Errorf("rule store: audit log: %w", err)
	}
	return nil
}

// writeFile replaces path atomically (temporary file, then rename).
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("rule store: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rule store: %w", err)
	}
	return nil
}

// withSource returns v with its source read from its version file.
func (d *Dir) withSource(v Version) (Version, error) {
	src, err := os.ReadFile(d.versionPath(v.ID, v.Version))
	if err != nil {
		return Version{}, fmt.Errorf("rule store: %w", err)
	}
	v.Source = src
	if v.Tests, err = readOptional(d.testsPath(v.ID, v.Version)); err != nil {
		return Version{}, err
	}
	return v, nil
}
