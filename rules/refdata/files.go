package refdata

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DirName is the directory, inside a rules directory, that holds its datasets.
const DirName = "data"

// FileName is the name of dataset name's file in a data directory: NAME.KIND.csv (a
// table may also be NAME.table.jsonl, read with KeyField "key").
func FileName(name string, kind Kind) string { return name + "." + string(kind) + ".csv" }

// ParseFileName splits a dataset file's name into its name, kind and format; ok is false
// for a file that is not a dataset.
func ParseFileName(file string) (name string, kind Kind, f Format, ok bool) {
	base := file
	switch {
	case strings.HasSuffix(base, ".csv"):
		f, base = FormatCSV, strings.TrimSuffix(base, ".csv")
	case strings.HasSuffix(base, ".jsonl"):
		f, base = FormatJSONL, strings.TrimSuffix(base, ".jsonl")
	default:
		return "", "", "", false
	}
	i := strings.LastIndexByte(base, '.')
	if i < 0 {
		return "", "", "", false
	}
	name, kind = base[:i], Kind(base[i+1:])
	if !ValidName(name) || !kind.Valid() || (f == FormatJSONL && kind != KindTable) {
		return "", "", "", false
	}
	return name, kind, f, true
}

// ReadFile parses a dataset file (its name says the dataset's name, kind and format).
func ReadFile(path string) (*Dataset, error) {
	name, kind, f, ok := ParseFileName(filepath.Base(path))
	if !ok {
		return nil, fmt.Errorf("refdata: %s: not a dataset file (want NAME.KIND.csv, KIND one of allow, block, watch, table, or NAME.table.jsonl)", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("refdata: %w", err)
	}
	d, err := Parse(name, kind, data, ParseOptions{Format: f, Header: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// LoadDir reads every dataset file of dir (a missing dir holds none). Two files naming
// one dataset are an error.
func LoadDir(dir string) (*Catalog, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return NewCatalog(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("refdata: %w", err)
	}
	var ds []*Dataset
	seen := map[string]string{}
	for _, e := range ents {
		name, _, _, ok := ParseFileName(e.Name())
		if e.IsDir() || !ok {
			continue
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("refdata: %s and %s both define dataset %q", prev, e.Name(), name)
		}
		seen[name] = e.Name()
		d, err := ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return NewCatalog(ds...), nil
}
