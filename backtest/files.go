package backtest

import (
	"errors"
	"io/fs"
	"path"
	"strings"
)

// File is an events file a backtest may read.
type File struct {
	// Name is the path relative to the events directory (as Spec.EventsFile takes it).
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

// maxListed bounds the files Files returns.
const maxListed = 1000

// Files lists the JSON-lines files (*.jsonl, *.ndjson, *.json) in the events directory
// and its subdirectories, in path order, at most 1000. Without an events directory it
// returns none.
func (m *Manager) Files() ([]File, error) {
	out := []File{}
	if m.root == nil {
		return out, nil
	}
	errFull := errors.New("full")
	err := fs.WalkDir(m.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable entry is left out
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		switch path.Ext(p) {
		case ".jsonl", ".ndjson", ".json":
		default:
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() {
			return nil
		}
		out = append(out, File{Name: p, Bytes: info.Size()})
		if len(out) == maxListed {
			return errFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		return out, err
	}
	return out, nil
}
