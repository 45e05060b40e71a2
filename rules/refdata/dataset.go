package refdata

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Kind is what a dataset is for. Lists (allow, block, watch) are sets of values; a table
// maps a key to a row. Every kind answers in_list (is the value a key); only tables
// answer ref and lookup.
type Kind string

// Kinds.
const (
	KindAllow Kind = "allow"
	KindBlock Kind = "block"
	KindWatch Kind = "watch"
	KindTable Kind = "table"
)

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool {
	return k == KindAllow || k == KindBlock || k == KindWatch || k == KindTable
}

// IsList reports whether k is a list kind (not a table).
func (k Kind) IsList() bool { return k.Valid() && k != KindTable }

// ColType is the type of a table column.
type ColType string

// Column types.
const (
	ColString ColType = "string"
	ColInt    ColType = "int"
	ColDouble ColType = "double"
	ColBool   ColType = "bool"
)

// Column is one value column of a table.
type Column struct {
	Name string
	Type ColType
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,127}$`)

// ValidName reports whether name can name a dataset: lower-case letters, digits, '-'
// and '_', at most 128 characters. Datasets are named apart from rules (patterns.ValidID
// decides rule ids; this package depends on nothing of ours).
func ValidName(name string) bool { return namePattern.MatchString(name) }

// Dataset is one list or table at one version. Immutable once built.
type Dataset struct {
	Name string
	Kind Kind
	// Version is the store's version number (0 for a dataset read from a file alone).
	Version int
	// KeyName is the header of the key column (often the event field it holds values of).
	KeyName string
	// Columns are a table's value columns (none for a list).
	Columns []Column
	// Digest is the first 16 hex digits of the sha256 of the canonical text (Encode):
	// equal contents, equal digests, whatever the version.
	Digest string

	index *Index
	cells []any // len(Columns) cells per key ordinal: string, int64, float64, bool or nil
}

// Len returns the number of entries (keys).
func (d *Dataset) Len() int { return d.index.Len() }

// Has reports whether key is an entry.
func (d *Dataset) Has(key string) bool {
	_, ok := d.index.Find(key)
	return ok
}

// Row returns the cells of key's row (in Columns order; a cell left empty is nil), or
// false. The slice must not be modified.
func (d *Dataset) Row(key string) ([]any, bool) {
	i, ok := d.index.Find(key)
	if !ok {
		return nil, false
	}
	n := len(d.Columns)
	return d.cells[i*n : (i+1)*n : (i+1)*n], true
}

// Column returns the position of the column named name.
func (d *Dataset) Column(name string) (int, bool) {
	for i, c := range d.Columns {
		if c.Name == name {
			return i, true
		}
	}
	return 0, false
}

// Keys returns the keys in their stored order (sorted).
func (d *Dataset) Keys() []string {
	out := make([]string, d.index.Len())
	for i := range out {
		out[i] = d.index.Key(i)
	}
	return out
}

// Bytes estimates the memory the dataset holds: its index and cells (strings counted by
// length).
func (d *Dataset) Bytes() int {
	n := d.index.Bytes() + 16*len(d.cells)
	for _, c := range d.cells {
		if s, ok := c.(string); ok {
			n += len(s)
		}
	}
	return n
}

// Info is what lists describe a dataset by.
type Info struct {
	Name    string
	Kind    Kind
	Version int
	Entries int
	Digest  string
}

// Info returns the dataset's description.
func (d *Dataset) Info() Info {
	return Info{Name: d.Name, Kind: d.Kind, Version: d.Version, Entries: d.Len(), Digest: d.Digest}
}

// KeyString is the entry a value is looked up as: strings as they are, integers in
// decimal, doubles with an integral value as integers (so 42.0 finds "42") and others in
// Go's shortest form, bools as true/false. ok is false for other types.
func KeyString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func digest(text []byte) string {
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:8])
}

// parseCell converts the text of a cell to its column's type; "" is a missing cell (nil).
func parseCell(t ColType, s string) (any, error) {
	if s == "" {
		return nil, nil
	}
	switch t {
	case ColString:
		return s, nil
	case ColInt:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an int", s)
		}
		return n, nil
	case ColDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a double", s)
		}
		return f, nil
	case ColBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a bool (true or false)", s)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown column type %q", t)
}

func formatCell(c any) string {
	if c == nil {
		return ""
	}
	s, _ := KeyString(c)
	if f, ok := c.(float64); ok {
		s = strconv.FormatFloat(f, 'g', -1, 64)
	}
	return s
}
