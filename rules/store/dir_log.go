package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"

	"github.com/cepd/cepd/internal/logfile"
)

// Bounds of what one change writes to the history, so that no line of it can grow past
// what its readers take.
const (
	// MaxComment bounds a version's comment and author as stored (longer ones are cut,
	// marked); the API refuses long comments before they get here.
	MaxComment = 4096
	// MaxAuditDiff bounds the diff an audit entry carries.
	MaxAuditDiff = 64 << 10
	// maxLine is the longest history line a reader takes; longer ones (which no version
	// of cepd since these bounds writes) are skipped, never an error for every reader.
	maxLine = 1 << 20
)

// Bound returns s cut to at most limit bytes (at a character boundary), saying so: what
// every store applies to comments (MaxComment) and audit diffs (MaxAuditDiff).
func Bound(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	note := fmt.Sprintf(" … (%d bytes cut)", len(s)-limit)
	cut := limit - len(note)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:max(cut, 0)] + note
}

// logLine is one line of a rule's versions.jsonl: a version and the rule file it lives in.
type logLine struct {
	File string `json:"file"`
	Version
}

// load reads each rule's versions.jsonl. A data directory written before these logs
// existed holds one index.json instead: its versions are copied into the logs first and
// the index is renamed index.json.migrated.
func (d *Dir) load() error {
	if err := d.migrateIndex(); err != nil {
		return err
	}
	ents, err := os.ReadDir(filepath.Join(d.dir, historyDir))
	if err != nil {
		return fmt.Errorf("rule store: %w", err)
	}
	for _, en := range ents {
		if !en.IsDir() || !StoredID(en.Name()) {
			continue
		}
		e, err := d.readLog(en.Name())
		if err != nil {
			return err
		}
		if e != nil {
			d.idx.Rules[en.Name()] = e
		}
	}
	return nil
}

// readLog reads rule id's versions (nil if it has none). A torn last line (a crash in the
// middle of an append) is cut off: its change was never answered.
func (d *Dir) readLog(id string) (*entry, error) {
	path := d.logPath(id)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rule store: %w", err)
	}
	e := &entry{}
	good := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		var l logLine
		if end < 0 || json.Unmarshal(data[off:off+end], &l) != nil {
			if end >= 0 && off+end+1 < len(data) {
				return nil, fmt.Errorf("rule store: %s is damaged at byte %d", path, off)
			}
			break // torn last line
		}
		if l.ID != id || l.Version.Version != len(e.Versions)+1 {
			return nil, fmt.Errorf("rule store: %s: line %d holds %s version %d", path, len(e.Versions)+1, l.ID, l.Version.Version)
		}
		e.File = l.File
		e.Versions = append(e.Versions, l.Version)
		off += end + 1
		good = off
	}
	if good < len(data) {
		if err := os.Truncate(path, int64(good)); err != nil {
			return nil, fmt.Errorf("rule store: cutting a torn line off %s: %w", path, err)
		}
	}
	if len(e.Versions) == 0 {
		return nil, nil
	}
	return e, nil
}

// migrateIndex turns the index.json of an older data directory into per-rule logs.
func (d *Dir) migrateIndex() error {
	data, err := os.ReadFile(d.indexPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rule store: %w", err)
	}
	var idx index
	if err := json.Unmarshal(data, &idx); err != nil {
		return fmt.Errorf("rule store: %s is damaged: %w", d.indexPath(), err)
	}
	for id, e := range idx.Rules {
		var b bytes.Buffer
		for _, v := range e.Versions {
			line, err := json.Marshal(logLine{File: e.File, Version: v})
			if err != nil {
				return fmt.Errorf("rule store: %w", err)
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		if err := os.MkdirAll(filepath.Dir(d.logPath(id)), 0o755); err != nil {
			return fmt.Errorf("rule store: %w", err)
		}
		if err := writeFile(d.logPath(id), b.Bytes()); err != nil {
			return err
		}
	}
	if err := os.Rename(d.indexPath(), d.indexPath()+".migrated"); err != nil {
		return fmt.Errorf("rule store: %w", err)
	}
	return nil
}

// appendVersion appends v to its rule's log: the commit point of a change. undo takes it
// back (for a change that fails later).
func (d *Dir) appendVersion(file string, v Version) (undo func() error, err error) {
	line, err := json.Marshal(logLine{File: file, Version: v})
	if err != nil {
		return nil, fmt.Errorf("rule store: %w", err)
	}
	path := d.logPath(v.ID)
	size, err := appendLine(path, line)
	if err != nil {
		return nil, fmt.Errorf("rule store: %w", err)
	}
	return func() error { return os.Truncate(path, size) }, nil
}

// appendLine appends line and a newline to the file at path, returning its size before.
func appendLine(path string, line []byte) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	if _, err = f.Write(append(line, '\n')); err == nil {
		err = f.Sync() // the append is the change's commit point
	}
	if err != nil {
		// A short write (a full disk) must not leave half a line for the next append to
		// glue onto: cut the file back to where it was.
		_ = f.Truncate(st.Size())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return st.Size(), err
}

// readLines calls fn with each line of r, skipping (never failing on) lines longer than
// maxLine.
func readLines(r io.Reader, fn func([]byte)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	long := false
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !long && len(line)+len(chunk) <= maxLine {
				line = append(line, chunk...)
			} else {
				long, line = true, line[:0]
			}
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return err
		}
		if !long && len(line)+len(chunk) <= maxLine {
			line = append(line, chunk...)
			if len(bytes.TrimSpace(line)) > 0 {
				fn(bytes.TrimSuffix(line, []byte{'\n'}))
			}
		}
		line, long = line[:0], false
		if err != nil {
			return nil
		}
	}
}

// readJSONLog reads the JSON-lines log at path (none if the file does not exist), oldest
// first: the records keep accepts, told how many it accepted before. A line that does not
// decode (a torn last line after a crash) is left out.
func readJSONLog[T any](path string, keep func(v T, kept int) bool) ([]T, error) {
	f, _, err := logfile.Open(path)
	if f == nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	err = readLines(f, func(line []byte) {
		var v T
		if json.Unmarshal(line, &v) == nil && keep(v, len(out)) {
			out = append(out, v)
		}
	})
	return out, err
}

// newestFirst turns a log read oldest first into its newest limit entries, newest first
// (limit <= 0: all of them).
func newestFirst[T any](out []T, limit int) []T {
	slices.Reverse(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
