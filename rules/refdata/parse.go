package refdata

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// Format is the text format of an import.
type Format string

// Formats.
const (
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
)

// ParseOptions say how to read an import.
type ParseOptions struct {
	Format Format // default FormatCSV
	// Header says the CSV's first row names the columns (always so for tables and for
	// the stored form). A list's import without it takes every row's first cell as a
	// value.
	Header bool
	// KeyField is the field of a JSON-lines object holding the key (default "key").
	KeyField string
	// MaxEntries bounds the entries (0: no bound).
	MaxEntries int
}

// Entry is one key and, for a table, its row of cells in column order.
type Entry struct {
	Key   string
	Cells []any
}

// Parse reads a dataset's text: the stored form (CSV with a header) or an import.
// Duplicate keys are an error for a table (which row would win?) and folded into one for a
// list. Errors name the line.
func Parse(name string, kind Kind, data []byte, o ParseOptions) (*Dataset, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("refdata: name %q: use lower-case letters, digits, '-' and '_'", name)
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("refdata: %s: kind %q: want allow, block, watch or table", name, kind)
	}
	if o.Format == "" {
		o.Format = FormatCSV
	}
	var (
		keyName string
		cols    []Column
		ents    []Entry
		err     error
	)
	switch o.Format {
	case FormatCSV:
		keyName, cols, ents, err = readCSV(kind, data, o)
	case FormatJSONL:
		if kind != KindTable {
			return nil, fmt.Errorf("refdata: %s: JSON lines are for tables; a list imports CSV (one value a row)", name)
		}
		keyName, cols, ents, err = readJSONL(data, o)
	default:
		return nil, fmt.Errorf("refdata: %s: format %q: want csv or jsonl", name, o.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("refdata: %s: %w", name, err)
	}
	return Build(name, kind, keyName, cols, ents)
}

// Build makes a dataset from its entries (sorted by key on the way). A table's duplicate
// key is an error; a list's is folded.
func Build(name string, kind Kind, keyName string, cols []Column, ents []Entry) (*Dataset, error) {
	if kind != KindTable && len(cols) > 0 {
		return nil, fmt.Errorf("refdata: %s: a %s list has one column (the values); use kind table for rows", name, kind)
	}
	if keyName == "" {
		keyName = "key"
	}
	// Not stable: equal keys are a table's error, and equal in a list.
	slices.SortFunc(ents, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	keys := make([]string, len(ents))
	for i, e := range ents {
		keys[i] = e.Key
	}
	var dupErr error
	x, kept, err := newIndex(keys, func(i int, key string) {
		if kind == KindTable && dupErr == nil {
			dupErr = fmt.Errorf("refdata: %s: key %q appears twice", name, key)
		}
	})
	if err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, dupErr
	}
	d := &Dataset{Name: name, Kind: kind, KeyName: keyName, Columns: cols, index: x}
	if len(cols) > 0 {
		d.cells = make([]any, 0, len(kept)*len(cols))
		for _, i := range kept {
			d.cells = append(d.cells, ents[i].Cells...)
		}
	}
	d.Digest = digest(Encode(d))
	return d, nil
}

// WithVersion returns a copy of d with the store's version number set.
func (d *Dataset) WithVersion(n int) *Dataset {
	c := *d
	c.Version = n
	return &c
}

// Entries returns the dataset's entries in key order.
func (d *Dataset) Entries() []Entry {
	out := make([]Entry, d.Len())
	n := len(d.Columns)
	for i := range out {
		out[i].Key = d.index.Key(i)
		if n > 0 {
			out[i].Cells = d.cells[i*n : (i+1)*n : (i+1)*n]
		}
	}
	return out
}

// Edit returns a list with the values of add added and those of remove removed (a table
// is edited by a new import).
func (d *Dataset) Edit(add, remove []string) (*Dataset, error) {
	if d.Kind == KindTable {
		return nil, fmt.Errorf("refdata: %s is a table: replace it with an import to change rows", d.Name)
	}
	drop := make(map[string]bool, len(remove))
	for _, r := range remove {
		drop[r] = true
	}
	ents := make([]Entry, 0, d.Len()+len(add))
	for i := 0; i < d.Len(); i++ {
		if k := d.index.Key(i); !drop[k] {
			ents = append(ents, Entry{Key: k})
		}
	}
	for _, a := range add {
		if a == "" {
			return nil, errors.New("refdata: an empty value cannot be a list entry")
		}
		if !drop[a] {
			ents = append(ents, Entry{Key: a})
		}
	}
	return Build(d.Name, d.Kind, d.KeyName, nil, ents)
}

// Encode writes the dataset's canonical text: a header (the key column, then each
// column as name:type, :string left out), then one row per key in key order.
func Encode(d *Dataset) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := []string{d.KeyName}
	for _, c := range d.Columns {
		if c.Type == ColString {
			head = append(head, c.Name)
		} else {
			head = append(head, c.Name+":"+string(c.Type))
		}
	}
	_ = w.Write(head)
	row := make([]string, 1+len(d.Columns))
	n := len(d.Columns)
	for i := 0; i < d.Len(); i++ {
		row[0] = d.index.Key(i)
		for j := 0; j < n; j++ {
			row[1+j] = formatCell(d.cells[i*n+j])
		}
		_ = w.Write(row)
	}
	w.Flush()
	return b.Bytes()
}

func readCSV(kind Kind, data []byte, o ParseOptions) (string, []Column, []Entry, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	r.TrimLeadingSpace = true
	var (
		keyName string
		cols    []Column
		ents    []Entry
	)
	header := o.Header || kind == KindTable
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", nil, nil, err
		}
		line, _ := r.FieldPos(0)
		if first && header {
			keyName = strings.TrimSpace(rec[0])
			if kind != KindTable && len(rec) > 1 {
				// A list's import may carry other columns: only the first is read.
				continue
			}
			for _, h := range rec[1:] {
				name, typ, _ := strings.Cut(strings.TrimSpace(h), ":")
				if typ == "" {
					typ = string(ColString)
				}
				t := ColType(typ)
				if t != ColString && t != ColInt && t != ColDouble && t != ColBool {
					return "", nil, nil, fmt.Errorf("line %d: column %q: type %q: want string, int, double or bool", line, name, typ)
				}
				if name == "" {
					return "", nil, nil, fmt.Errorf("line %d: a column has no name", line)
				}
				cols = append(cols, Column{Name: name, Type: t})
			}
			continue
		}
		key := strings.TrimSpace(rec[0])
		if key == "" {
			if len(rec) == 1 {
				continue // a blank line
			}
			return "", nil, nil, fmt.Errorf("line %d: the key (first column) is empty", line)
		}
		e := Entry{Key: key}
		if kind == KindTable {
			if len(rec) != 1+len(cols) {
				return "", nil, nil, fmt.Errorf("line %d: %d cells, the header has %d", line, len(rec), 1+len(cols))
			}
			e.Cells = make([]any, len(cols))
			for j, c := range cols {
				v, err := parseCell(c.Type, rec[1+j])
				if err != nil {
					return "", nil, nil, fmt.Errorf("line %d: column %s: %w", line, c.Name, err)
				}
				e.Cells[j] = v
			}
		}
		ents = append(ents, e)
		if o.MaxEntries > 0 && len(ents) > o.MaxEntries {
			return "", nil, nil, fmt.Errorf("more than %d entries", o.MaxEntries)
		}
	}
	return keyName, cols, ents, nil
}

// jsonRow is one object of a JSONL table, with its line for messages.
type jsonRow struct {
	line int
	obj  map[string]any
}

func readJSONL(data []byte, o ParseOptions) (string, []Column, []Entry, error) {
	keyField := o.KeyField
	if keyField == "" {
		keyField = "key"
	}
	var rows []jsonRow
	types := map[string]ColType{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return "", nil, nil, fmt.Errorf("line %d: %w", line, err)
		}
		if err := noteJSONTypes(types, obj, keyField, line); err != nil {
			return "", nil, nil, err
		}
		rows = append(rows, jsonRow{line: line, obj: obj})
		if o.MaxEntries > 0 && len(rows) > o.MaxEntries {
			return "", nil, nil, fmt.Errorf("more than %d entries", o.MaxEntries)
		}
	}
	if err := sc.Err(); err != nil {
		return "", nil, nil, err
	}
	cols := make([]Column, 0, len(types))
	for k, t := range types {
		cols = append(cols, Column{Name: k, Type: t})
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].Name < cols[j].Name })
	ents, err := jsonEntries(rows, cols, keyField)
	if err != nil {
		return "", nil, nil, err
	}
	return keyField, cols, ents, nil
}

// noteJSONTypes records in types the column type of each field of obj (the key field
// aside) at line: a field's type is the same on every line, ints and doubles together
// making a double column.
func noteJSONTypes(types map[string]ColType, obj map[string]any, keyField string, line int) error {
	for k, v := range obj {
		if k == keyField || v == nil {
			continue
		}
		var t ColType
		switch x := v.(type) {
		case string:
			t = ColString
		case bool:
			t = ColBool
		case json.Number:
			t = ColInt
			if _, err := x.Int64(); err != nil {
				t = ColDouble
			}
		default:
			return fmt.Errorf("line %d: field %q: a table cell is a string, number or bool", line, k)
		}
		switch prev, seen := types[k]; {
		case !seen || prev == t:
			types[k] = t
		case (prev == ColInt && t == ColDouble) || (prev == ColDouble && t == ColInt):
			types[k] = ColDouble
		default:
			return fmt.Errorf("line %d: field %q is a %s here and a %s before", line, k, t, prev)
		}
	}
	return nil
}

// jsonEntries makes the table's entries of rows, with cells in the order of cols.
func jsonEntries(rows []jsonRow, cols []Column, keyField string) ([]Entry, error) {
	ents := make([]Entry, 0, len(rows))
	for _, r := range rows {
		k, ok := KeyString(jsonPlain(r.obj[keyField]))
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: no key field %q", r.line, keyField)
		}
		e := Entry{Key: k, Cells: make([]any, len(cols))}
		for j, c := range cols {
			v := r.obj[c.Name]
			if v == nil {
				continue
			}
			s := fmt.Sprint(v)
			cell, err := parseCell(c.Type, s)
			if err != nil {
				return nil, fmt.Errorf("line %d: field %s: %w", r.line, c.Name, err)
			}
			e.Cells[j] = cell
		}
		ents = append(ents, e)
	}
	return ents, nil
}

func jsonPlain(v any) any {
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return i
		}
		f, _ := n.Float64()
		return f
	}
	return v
}
