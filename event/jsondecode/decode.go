package jsondecode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/buger/jsonparser"
)

// Decoder turns JSON objects into Events of one schema. It is not safe for concurrent use
// (it reuses a scratch buffer); make one per goroutine.
type Decoder struct {
	schema *Schema
	seen   []bool
	// byLen lists, for each key length (mod 64), the fields with a name of that length:
	// finding a field is a length lookup and a byte comparison or two, no hashing.
	byLen [64][]int
	// recent keeps, per field, the last few distinct short strings decoded, so values
	// that repeat (event types, currencies, countries) are not allocated again.
	recent [][recentN]string
	next   []uint8
	bounds Bounds
	maxStr int
	// unknown counts the fields the schema does not declare (nil: not counted).
	unknown *UnknownFields
}

// SetBounds sets the limits events are held to beyond the schema (see Bounds).
func (d *Decoder) SetBounds(b Bounds) {
	d.bounds = b
	d.maxStr = b.StringLimit()
}

const (
	recentN      = 8
	recentMaxLen = 24
)

func (d *Decoder) field(key []byte) (int, bool) {
	for _, i := range d.byLen[len(key)&63] {
		if d.schema.Fields[i].Name == string(key) {
			return i, true
		}
	}
	return 0, false
}

// str returns the string value of a JSON string token of field i.
func (d *Decoder) str(i int, raw []byte) (string, error) {
	if len(raw) > min(recentMaxLen, d.maxStr) || bytes.IndexByte(raw, '\\') >= 0 {
		s, err := jsonparser.ParseString(raw)
		if err != nil {
			return "", &DecodeError{Reason: ReasonBadJSON, Field: d.schema.Fields[i].Name, Msg: err.Error()}
		}
		if len(s) > d.maxStr {
			return "", &DecodeError{Reason: ReasonFieldTooLarge, Field: d.schema.Fields[i].Name,
				Msg: fmt.Sprintf("a string of %d bytes is longer than the %d bytes allowed", len(s), d.maxStr)}
		}
		return s, nil
	}
	rc := &d.recent[i]
	for _, s := range rc {
		if s == string(raw) {
			return s, nil
		}
	}
	s := string(raw)
	rc[d.next[i]%recentN] = s
	d.next[i]++
	return s, nil
}

// NewDecoder returns a Decoder for s.
func NewDecoder(s *Schema) *Decoder {
	d := &Decoder{schema: s, seen: make([]bool, len(s.Fields)), recent: make([][recentN]string, len(s.Fields)), next: make([]uint8, len(s.Fields)),
		maxStr: Bounds{}.StringLimit()}
	for i, f := range s.Fields {
		d.byLen[len(f.Name)&63] = append(d.byLen[len(f.Name)&63], i)
	}
	return d
}

// SetUnknown makes the decoder count the fields it skips because the schema does not
// declare them in u (nil: not counted).
func (d *Decoder) SetUnknown(u *UnknownFields) { d.unknown = u }

// Decode parses one JSON object into ev (whose Values slice is reused when large enough).
// Unknown fields are ignored, but the whole event must be valid UTF-8 (an alert carries
// its events to readers that refuse anything else). On error ev is left in an unspecified
// state.
func (d *Decoder) Decode(data []byte, ev *Event) error {
	s := d.schema
	data = bytes.TrimSpace(data)
	if !utf8.Valid(data) {
		return &DecodeError{Reason: ReasonInvalidUTF8, Msg: "the event is not valid UTF-8"}
	}
	if len(data) == 0 || data[0] != '{' {
		if len(data) > 0 && json.Valid(data) {
			return &DecodeError{Reason: ReasonNotObject, Msg: "an event must be a JSON object"}
		}
		return &DecodeError{Reason: ReasonBadJSON, Msg: "not valid JSON"}
	}
	if cap(ev.Values) >= len(s.Fields) {
		ev.Values = ev.Values[:len(s.Fields)]
		clear(ev.Values)
	} else {
		ev.Values = make([]Value, len(s.Fields))
	}
	clear(d.seen)
	ev.Schema = s
	var ferr error
	end := 1 // offset after the last member: only '}' and blanks may follow
	err := jsonparser.ObjectEach(data, func(key, value []byte, dt jsonparser.ValueType, off int) error {
		end = off
		i, ok := d.field(key)
		if !ok {
			if d.unknown != nil {
				d.unknown.Add(key)
			}
			return nil
		}
		v, err := d.convert(i, s.Fields[i], value, dt)
		if err != nil {
			ferr = err
			return err
		}
		ev.Values[i] = v
		d.seen[i] = true
		return nil
	})
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return &DecodeError{Reason: ReasonBadJSON, Msg: err.Error()}
	}
	if rest := bytes.TrimLeft(data[min(end, len(data)):], " \t\r\n"); len(rest) == 0 || rest[0] != '}' || len(bytes.TrimSpace(rest[1:])) != 0 {
		return &DecodeError{Reason: ReasonBadJSON, Msg: "unexpected data after the JSON object"}
	}
	absent := func(i int) bool { return i >= 0 && (!ev.Values[i].Present() || ev.Values[i].Kind == KindNull) }
	if absent(s.KeyIndex()) {
		return &DecodeError{Reason: ReasonMissingKey, Field: s.KeyField, Msg: "the key field is missing or null"}
	}
	if absent(s.TimeIndex()) {
		return &DecodeError{Reason: ReasonMissingTime, Field: s.TimeField, Msg: "the event-time field is missing or null"}
	}
	for i, f := range s.Fields {
		if absent(i) {
			if !f.Optional && f.Type != TypeAny {
				return &DecodeError{Reason: ReasonMissingField, Field: f.Name, Msg: "required field is missing or null"}
			}
			ev.Values[i] = Value{} // null counts as absent
		}
	}
	if s.KeyIndex() >= 0 {
		ev.Key = ev.Values[s.KeyIndex()].KeyString()
	}
	if s.TimeIndex() >= 0 {
		t := ev.Values[s.TimeIndex()]
		switch t.Kind {
		case KindTimestamp:
			ev.Time = t.AsTimeNanos() / 1e6
		case KindInt:
			ev.Time = t.AsInt()
		case KindDouble:
			f := t.AsDouble()
			if !(f >= MinTime && f <= MaxTime) { // also NaN
				return &DecodeError{Reason: ReasonTimeRange, Field: s.TimeField, Msg: fmt.Sprintf("event time %g ms is outside the years 1678 to 2262", f)}
			}
			ev.Time = int64(f)
		default:
			return &DecodeError{Reason: ReasonWrongType, Field: s.TimeField, Msg: "event time must be an RFC 3339 string or epoch milliseconds"}
		}
		if err := d.bounds.CheckTime(s.TimeField, ev.Time); err != nil {
			return err
		}
	}
	if s.IDIndex() >= 0 {
		ev.ID = ev.Values[s.IDIndex()].KeyString()
	} else {
		ev.ID = ""
	}
	return nil
}

func wrongType(f Field, want string, value []byte) error {
	shown := string(value)
	if len(shown) > 40 {
		shown = shown[:40] + "…"
	}
	return &DecodeError{Reason: ReasonWrongType, Field: f.Name, Msg: fmt.Sprintf("want %s, got %s", want, shown)}
}

func (d *Decoder) convert(i int, f Field, value []byte, dt jsonparser.ValueType) (Value, error) {
	if dt == jsonparser.Null {
		return Null(), nil
	}
	switch f.Type {
	case TypeString:
		if dt != jsonparser.String {
			return Value{}, wrongType(f, "a string", value)
		}
		s, err := d.str(i, value)
		if err != nil {
			return Value{}, err
		}
		return String(s), nil
	case TypeBool:
		if dt != jsonparser.Boolean {
			return Value{}, wrongType(f, "true or false", value)
		}
		return Bool(value[0] == 't'), nil
	case TypeInt:
		if dt != jsonparser.Number {
			return Value{}, wrongType(f, "an integer", value)
		}
		i, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil {
			fl, ferr := strconv.ParseFloat(string(value), 64)
			if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 {
				return Value{}, wrongType(f, "an integer", value)
			}
			i = int64(fl)
		}
		return Int(i), nil
	case TypeDouble:
		if dt != jsonparser.Number {
			return Value{}, wrongType(f, "a number", value)
		}
		fl, err := strconv.ParseFloat(string(value), 64)
		if err != nil || math.IsInf(fl, 0) {
			return Value{}, wrongType(f, "a number", value)
		}
		return Double(fl), nil
	case TypeTimestamp:
		switch dt {
		case jsonparser.String:
			t, err := time.Parse(time.RFC3339Nano, string(value))
			if err != nil {
				return Value{}, wrongType(f, "an RFC 3339 timestamp", value)
			}
			ns, ok := timeNanos(t)
			if !ok {
				return Value{}, &DecodeError{Reason: ReasonTimeRange, Field: f.Name, Msg: fmt.Sprintf("%s is outside the years 1678 to 2262", value)}
			}
			return TimestampNanos(ns), nil
		case jsonparser.Number:
			ms, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil {
				return Value{}, wrongType(f, "epoch milliseconds", value)
			}
			ns, ok := msToNanos(ms)
			if !ok {
				return Value{}, &DecodeError{Reason: ReasonTimeRange, Field: f.Name, Msg: fmt.Sprintf("%d ms is outside the years 1678 to 2262", ms)}
			}
			return TimestampNanos(ns), nil
		}
		return Value{}, wrongType(f, "an RFC 3339 timestamp or epoch milliseconds", value)
	case TypeAny:
		switch dt {
		case jsonparser.String:
			s, err := d.str(i, value)
			if err != nil {
				return Value{}, err
			}
			return String(s), nil
		case jsonparser.Boolean:
			return Bool(value[0] == 't'), nil
		case jsonparser.Number:
			if bytes.ContainsAny(value, ".eE") {
				fl, err := strconv.ParseFloat(string(value), 64)
				if err != nil {
					return Value{}, wrongType(f, "a number", value)
				}
				return Double(fl), nil
			}
			i, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil {
				return Value{}, wrongType(f, "an integer", value)
			}
			return Int(i), nil
		}
		return Value{}, wrongType(f, "a scalar", value)
	}
	return Value{}, wrongType(f, f.Type.String(), value)
}
