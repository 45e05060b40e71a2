package event

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Field is one declared field of a schema.
type Field struct {
	Name string
	Type Type
	// Optional fields may be absent from an event; a required field that is absent makes
	// the event malformed.
	Optional bool
}

// Schema describes the events of one stream: their fields, which field is the key, which
// is the event time and which (optionally) the event id. Build it with NewSchema or
// LoadSchema; it is immutable afterwards.
type Schema struct {
	Name   string
	Fields []Field
	// KeyField, TimeField and IDField name fields in Fields. IDField may be empty.
	KeyField, TimeField, IDField string
	keyIdx, timeIdx, idIdx       int
	index                        map[string]int
}

// NewSchema validates the field list and the key/time/id names and builds a Schema.
func NewSchema(name string, fields []Field, key, timeField, id string) (*Schema, error) {
	s := &Schema{Name: name, Fields: fields, KeyField: key, TimeField: timeField, IDField: id,
		index: make(map[string]int, len(fields)), idIdx: -1, keyIdx: -1, timeIdx: -1}
	for i, f := range fields {
		if f.Name == "" {
			return nil, fmt.Errorf("schema %s: field %d has no name", name, i+1)
		}
		if _, dup := s.index[f.Name]; dup {
			return nil, fmt.Errorf("schema %s: field %q declared twice", name, f.Name)
		}
		if f.Type == TypeInvalid {
			return nil, fmt.Errorf("schema %s: field %q has no type", name, f.Name)
		}
		s.index[f.Name] = i
	}
	var ok bool
	if key != "" {
		if s.keyIdx, ok = s.index[key]; !ok {
			return nil, fmt.Errorf("schema %s: key field %q is not declared", name, key)
		}
	}
	if timeField != "" {
		if s.timeIdx, ok = s.index[timeField]; !ok {
			return nil, fmt.Errorf("schema %s: time field %q is not declared", name, timeField)
		}
		switch fields[s.timeIdx].Type {
		case TypeTimestamp, TypeInt, TypeAny:
		default:
			return nil, fmt.Errorf("schema %s: time field %q must be a timestamp or int (epoch ms), not %s", name, timeField, fields[s.timeIdx].Type)
		}
	}
	if id != "" {
		if s.idIdx, ok = s.index[id]; !ok {
			return nil, fmt.Errorf("schema %s: id field %q is not declared", name, id)
		}
	}
	return s, nil
}

// Index returns the position of the named field.
func (s *Schema) Index(name string) (int, bool) {
	i, ok := s.index[name]
	return i, ok
}

// KeyIndex, TimeIndex and IDIndex return the positions of the key, time and id fields
// (-1 when not declared).
func (s *Schema) KeyIndex() int  { return s.keyIdx }
func (s *Schema) TimeIndex() int { return s.timeIdx }
func (s *Schema) IDIndex() int   { return s.idIdx }

// String renders the schema in its file form (deterministic; used in tests).
func (s *Schema) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %s\nkey: %s\ntime: %s\n", s.Name, s.KeyField, s.TimeField)
	if s.IDField != "" {
		fmt.Fprintf(&b, "id: %s\n", s.IDField)
	}
	b.WriteString("fields:\n")
	for _, f := range s.Fields {
		opt := ""
		if f.Optional {
			opt = "?"
		}
		fmt.Fprintf(&b, "  %s: %s%s\n", f.Name, f.Type, opt)
	}
	return b.String()
}

// schemaFile is the YAML form:
//
//	name: card_transaction
//	key: card_id
//	time: ts
//	id: txn_id
//	fields:
//	  card_id: string
//	  amount: double
//	  device: string?   # '?' marks an optional field
type schemaFile struct {
	Name   string    `yaml:"name"`
	Key    string    `yaml:"key"`
	Time   string    `yaml:"time"`
	ID     string    `yaml:"id"`
	Fields yaml.Node `yaml:"fields"`
}

// LoadSchema reads a schema file.
func LoadSchema(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	s, err := ParseSchema(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseSchema parses a schema from its YAML text. Errors carry line:column.
func ParseSchema(data []byte) (*Schema, error) {
	var f schemaFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if f.Key == "" {
		return nil, fmt.Errorf("schema: 'key' (the field that keys events) is required")
	}
	if f.Time == "" {
		return nil, fmt.Errorf("schema: 'time' (the event-time field) is required")
	}
	if f.Fields.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%d:%d: schema: 'fields' must be a mapping of field name to type", f.Fields.Line, f.Fields.Column)
	}
	var fields []Field
	for i := 0; i+1 < len(f.Fields.Content); i += 2 {
		k, v := f.Fields.Content[i], f.Fields.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%d:%d: field %q: type must be a name such as string, int, double, bool or timestamp", v.Line, v.Column, k.Value)
		}
		tn, opt := strings.CutSuffix(strings.TrimSpace(v.Value), "?")
		t, ok := ParseType(tn)
		if !ok {
			return nil, fmt.Errorf("%d:%d: field %q: unknown type %q (want string, int, double, bool or timestamp)", v.Line, v.Column, k.Value, v.Value)
		}
		fields = append(fields, Field{Name: k.Value, Type: t, Optional: opt})
	}
	name := f.Name
	if name == "" {
		name = "events"
	}
	return NewSchema(name, fields, f.Key, f.Time, f.ID)
}

// FieldNames returns the field names sorted (for messages).
func (s *Schema) FieldNames() []string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	sort.Strings(names)
	return names
}

// KeyedBy returns the schema with field as its key (s itself when it already is): the
// same fields, time and id, read per another entity (a device, an account, a merchant).
// Events without a value for field do not decode under it (ReasonMissingKey).
func (s *Schema) KeyedBy(field string) (*Schema, error) {
	if field == "" || field == s.KeyField {
		return s, nil
	}
	return NewSchema(s.Name, s.Fields, field, s.TimeField, s.IDField)
}
