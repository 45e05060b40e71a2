package jsondecode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/buger/jsonparser"

	"github.com/cepd/cepd/event"
)

// Decoder turns JSON objects into Events of one schema. It is not safe for concurrent use
// (it reuses a scratch builder); make one per goroutine.
type Decoder struct {
	schema *event.Schema
	// byLen lists, for each key length (mod 64), the fields with a name of that length:
	// finding a field is a length lookup and a byte comparison or two, no hashing.
	byLen [64][]int
	// codes are the fields' codes for the fast path (scan.go), made from the schema.
	codes []fieldCode
	// table finds a field by its key's bytes (keys.go).
	table keyTable
	// dates is the fast path's date cache for timestamps.
	dates dateCache
	// need marks the fields that must be present and not null (required), 64 a word.
	need   []uint64
	b      event.Builder
	bounds event.Bounds
	maxStr int
	// unknown counts the fields the schema does not declare (nil: not counted).
	unknown *event.UnknownFields
	// ferr is the first field error of the event being decoded.
	ferr error
	// end is the offset after the last member seen: only '}' and blanks may follow.
	end int
	// each is d.member, bound once (a method value allocates when made).
	each func(key, value []byte, dt jsonparser.ValueType, off int) error
	// scratch is the fast path's list of unknown members (scan.go); slow forces the slow
	// path (tests).
	scratch []member
	slow    bool
	// order is, for each member position of the fast path, the field the member there
	// named in the previous event (-1: none); see field.
	order [maxMembers]int32
	// missingKey is the error of every event without its key, made once: a key space
	// other than the first meets one for most events and skips them (engine).
	missingKey *event.DecodeError
	// rekeyFrom is the schema of the last event Rekey was given, rekeyOK whether its
	// events can be rekeyed (same fields, time and id).
	rekeyFrom *event.Schema
	rekeyOK   bool
}

// SetBounds sets the limits events are held to beyond the schema (see Bounds).
func (d *Decoder) SetBounds(b event.Bounds) {
	d.bounds = b
	d.maxStr = b.StringLimit()
}

// field finds the schema field named key, the j-th member of its object (j < 0: unknown
// position). Producers write an event's members in the same order from event to event,
// so the field the j-th member named last time is tried first: one comparison.
func (d *Decoder) field(key []byte, j int) (int, bool) {
	if uint(j) < uint(len(d.order)) {
		if i := int(d.order[j]); i >= 0 && d.schema.Fields[i].Name == string(key) {
			return i, true
		}
	}
	i, ok := d.lookup(key)
	if uint(j) < uint(len(d.order)) {
		d.order[j] = int32(i)
		if !ok {
			d.order[j] = -1
		}
	}
	return i, ok
}

// known is field, counting a member the schema does not declare (Decoder.unknown).
func (d *Decoder) known(key []byte, j int) (int, bool) {
	i, ok := d.field(key, j)
	if !ok && d.unknown != nil {
		d.unknown.Add(key)
	}
	return i, ok
}

// lookup finds the schema field named key by the length of its name.
func (d *Decoder) lookup(key []byte) (int, bool) {
	for _, i := range d.byLen[len(key)&63] {
		if d.schema.Fields[i].Name == string(key) {
			return i, true
		}
	}
	return 0, false
}

// str sets field i to the string value of a JSON string token: its bytes are appended
// to the event's string buffer, unescaped there when they hold an escape.
func (d *Decoder) str(i int, raw []byte) error {
	if bytes.IndexByte(raw, '\\') < 0 {
		return d.plainStr(i, raw)
	}
	buf := d.b.StringBuffer()
	off := len(buf)
	buf, err := unescape(buf, raw)
	if err != nil {
		return &event.DecodeError{Reason: event.ReasonBadJSON, Field: d.schema.Fields[i].Name, Msg: err.Error()}
	}
	return d.commit(i, buf, off)
}

// plainStr sets field i to the bytes of a JSON string token that holds no escape.
func (d *Decoder) plainStr(i int, raw []byte) error {
	buf := d.b.StringBuffer()
	off := len(buf)
	return d.commit(i, append(buf, raw...), off)
}

// commit makes buf[off:] (the string buffer with a value appended) the value of field i,
// within the bound on strings.
func (d *Decoder) commit(i int, buf []byte, off int) error {
	if n := len(buf) - off; n > d.maxStr {
		return &event.DecodeError{Reason: event.ReasonFieldTooLarge, Field: d.schema.Fields[i].Name,
			Msg: fmt.Sprintf("a string of %d bytes is longer than the %d bytes allowed", n, d.maxStr)}
	}
	d.b.CommitString(i, buf, off)
	return nil
}

// unescape appends the unescaped bytes of the JSON string token raw to buf.
func unescape(buf, raw []byte) ([]byte, error) {
	off := len(buf)
	buf = append(buf, raw...) // at least as long as the unescaped text
	out, err := jsonparser.Unescape(raw, buf[off:])
	if err != nil {
		return buf[:off], err
	}
	if len(out) > 0 && &out[0] != &buf[off] { // did not fit (cannot happen: unescaping shrinks)
		buf = append(buf[:off], out...)
		return buf, nil
	}
	return buf[:off+len(out)], nil
}

// NewDecoder returns a Decoder for s.
func NewDecoder(s *event.Schema) *Decoder {
	d := &Decoder{schema: s, maxStr: event.Bounds{}.StringLimit(),
		missingKey: &event.DecodeError{Reason: event.ReasonMissingKey, Field: s.KeyField, Msg: "the key field is missing or null"}}
	for i, f := range s.Fields {
		d.byLen[len(f.Name)&63] = append(d.byLen[len(f.Name)&63], i)
		d.codes = append(d.codes, newFieldCode(f))
		if i%64 == 0 {
			d.need = append(d.need, 0)
		}
		if required(s, i) {
			d.need[i/64] |= 1 << (i % 64)
		}
	}
	d.table = newKeyTable(d.codes)
	d.each = d.member
	for j := range d.order {
		d.order[j] = -1
	}
	return d
}

// SetUnknown makes the decoder count the fields it skips because the schema does not
// declare them in u (nil: not counted).
func (d *Decoder) SetUnknown(u *event.UnknownFields) { d.unknown = u }

// SetBoxed says whether decoded events' slabs have room for a kept header
// (event.Builder.SetBoxed).
func (d *Decoder) SetBoxed(on bool) { d.b.SetBoxed(on) }

// Decode parses one JSON object into ev, which gets a new values slab (ev's header is
// overwritten; a slab it had is left to whoever shares it). Unknown fields are ignored,
// but the whole event must be valid UTF-8 (an alert carries its events to readers that
// refuse anything else). On error ev is left in an unspecified state.
func (d *Decoder) Decode(data []byte, ev *event.Event) error {
	data = bytes.TrimSpace(data)
	if err := checkObject(data); err != nil {
		return err
	}
	d.b.Reset(len(d.schema.Fields))
	if err := d.members(data); err != nil {
		return err
	}
	if err := d.checkPresent(); err != nil {
		return err
	}
	ev.Schema = d.schema
	d.b.Build(ev)
	return d.header(ev)
}

// Rekey makes ev the event src is under the decoder's schema, without decoding its bytes
// again: what Decode would make of them, when src was decoded by a schema with the same
// fields, time and id fields (Schema.KeyedBy) under the same bounds: the values are
// shared (the slab is immutable), the key is read again and checked as Decode checks it.
// It returns ErrNotRekeyable, leaving ev alone, when src's schema differs otherwise.
func (d *Decoder) Rekey(src, ev *event.Event) error {
	if src.Schema != d.rekeyFrom {
		s, o := d.schema, src.Schema
		d.rekeyOK = o != nil && slices.Equal(s.Fields, o.Fields) && s.TimeField == o.TimeField && s.IDField == o.IDField
		d.rekeyFrom = o
	}
	if !d.rekeyOK {
		return ErrNotRekeyable
	}
	if i := d.schema.KeyIndex(); i >= 0 && src.Value(i).Kind <= event.KindNull {
		return d.missingKey
	}
	*ev = *src
	ev.Schema = d.schema
	return d.header(ev)
}

// ErrNotRekeyable is Rekey's refusal of an event decoded by an unrelated schema.
var ErrNotRekeyable = errors.New("jsondecode: the event was decoded by a schema with other fields")

// members decodes the object's members into the builder: by flat when it reads the
// object, else by jsonparser.
func (d *Decoder) members(data []byte) error {
	if !d.slow && d.flat(data) {
		return nil
	}
	d.b.Reset(len(d.schema.Fields))
	d.ferr, d.end = nil, 1
	err := jsonparser.ObjectEach(data, d.each)
	if d.ferr != nil {
		return d.ferr
	}
	if err != nil {
		return &event.DecodeError{Reason: event.ReasonBadJSON, Msg: err.Error()}
	}
	if rest := bytes.TrimLeft(data[min(d.end, len(data)):], " \t\r\n"); len(rest) == 0 || rest[0] != '}' || len(bytes.TrimSpace(rest[1:])) != 0 {
		return &event.DecodeError{Reason: event.ReasonBadJSON, Msg: "unexpected data after the JSON object"}
	}
	return nil
}

// checkObject checks that data is valid UTF-8 and starts like a JSON object.
func checkObject(data []byte) error {
	if !utf8.Valid(data) {
		return &event.DecodeError{Reason: event.ReasonInvalidUTF8, Msg: "the event is not valid UTF-8"}
	}
	if len(data) == 0 || data[0] != '{' {
		if len(data) > 0 && json.Valid(data) {
			return &event.DecodeError{Reason: event.ReasonNotObject, Msg: "an event must be a JSON object"}
		}
		return &event.DecodeError{Reason: event.ReasonBadJSON, Msg: "not valid JSON"}
	}
	return nil
}

// member decodes one member of the object (jsonparser.ObjectEach's callback).
func (d *Decoder) member(key, value []byte, dt jsonparser.ValueType, off int) error {
	d.end = off
	i, ok := d.known(key, -1)
	if !ok {
		return nil
	}
	err := d.set(i, value, dt)
	if err != nil {
		d.ferr = err
	}
	return err
}

// set decodes the value of field i.
func (d *Decoder) set(i int, value []byte, dt jsonparser.ValueType) error {
	d.b.Clear(i) // a repeated member: the last one counts
	return d.convert(i, d.schema.Fields[i], value, dt)
}

// checkPresent checks that the key, the time and every required field are present and
// not null, and makes null optional fields absent. It reads the builder's kinds 64 at a
// time (Builder.Absent) against the fields that must be present (Decoder.need); when one
// is absent, missing words the error.
func (d *Decoder) checkPresent() error {
	for c := 0; c < len(d.schema.Fields); c += 64 {
		absent := d.b.Absent(c)
		if absent&d.need[c/64] != 0 {
			return d.missing()
		}
		for ; absent != 0; absent &= absent - 1 {
			d.b.Clear(c + bits.TrailingZeros64(absent)) // null counts as absent
		}
	}
	return nil
}

// missing returns the error of an event without its key, its time or a required field
// (in that order of precedence; the first such field in schema order).
func (d *Decoder) missing() error {
	s := d.schema
	absent := func(i int) bool { return i >= 0 && d.b.Kind(i) <= event.KindNull }
	if absent(s.KeyIndex()) {
		return d.missingKey
	}
	if absent(s.TimeIndex()) {
		return &event.DecodeError{Reason: event.ReasonMissingTime, Field: s.TimeField, Msg: "the event-time field is missing or null"}
	}
	for i, f := range s.Fields {
		if absent(i) && required(s, i) {
			return &event.DecodeError{Reason: event.ReasonMissingField, Field: f.Name, Msg: "required field is missing or null"}
		}
	}
	// Unreachable while Builder.Absent and Kind agree (TestCheckPresentMatchesReference);
	// an event is dead-lettered with a clear reason rather than the process stopped.
	return &event.DecodeError{Reason: event.ReasonMissingField, Msg: "the presence check found a required field missing that no field's value confirms"}
}

// required reports whether field i of s must be present and not null: the key, the time,
// and every field neither optional nor of type any.
func required(s *event.Schema, i int) bool {
	f := s.Fields[i]
	return i == s.KeyIndex() || i == s.TimeIndex() || !f.Optional && f.Type != event.TypeAny
}

// header sets ev's key and time from its values (its id is read from them: Event.ID).
func (d *Decoder) header(ev *event.Event) error {
	s := d.schema
	ev.Key = ""
	if s.KeyIndex() >= 0 {
		ev.Key = ev.Value(s.KeyIndex()).KeyString()
		if strings.HasPrefix(ev.Key, "\x00") {
			return &event.DecodeError{Reason: event.ReasonReservedKey, Field: s.KeyField, Msg: "a key may not start with a NUL byte (\\u0000): cepd reserves those"}
		}
	}
	if s.TimeIndex() < 0 {
		return nil
	}
	t := ev.Value(s.TimeIndex())
	switch t.Kind {
	case event.KindTimestamp:
		ev.Time = t.AsTimeNanos() / 1e6
	case event.KindInt:
		ev.Time = t.AsInt()
	case event.KindDouble:
		f := t.AsDouble()
		if !(f >= event.MinTime && f <= event.MaxTime) { // also NaN
			return &event.DecodeError{Reason: event.ReasonTimeRange, Field: s.TimeField, Msg: fmt.Sprintf("event time %g ms is outside the years 1678 to 2262", f)}
		}
		ev.Time = int64(f)
	default:
		return &event.DecodeError{Reason: event.ReasonWrongType, Field: s.TimeField, Msg: "event time must be an RFC 3339 string or epoch milliseconds"}
	}
	return d.bounds.CheckTime(s.TimeField, ev.Time)
}

func wrongType(f event.Field, want string, value []byte) error {
	shown := string(value)
	if len(shown) > 40 {
		shown = shown[:40] + "…"
	}
	return &event.DecodeError{Reason: event.ReasonWrongType, Field: f.Name, Msg: fmt.Sprintf("want %s, got %s", want, shown)}
}

// convert sets field i (of declared field f) from a JSON value.
func (d *Decoder) convert(i int, f event.Field, value []byte, dt jsonparser.ValueType) error {
	if dt == jsonparser.Null {
		d.b.Set(i, event.Null())
		return nil
	}
	var v event.Value
	var err error
	switch f.Type {
	case event.TypeString:
		if dt != jsonparser.String {
			return wrongType(f, "a string", value)
		}
		return d.str(i, value)
	case event.TypeBool:
		if dt != jsonparser.Boolean {
			return wrongType(f, "true or false", value)
		}
		v = event.Bool(value[0] == 't')
	case event.TypeInt:
		v, err = parseInt(f, value, dt)
	case event.TypeDouble:
		v, err = parseDouble(f, value, dt)
	case event.TypeTimestamp:
		v, err = parseTimestamp(f, value, dt)
	case event.TypeAny:
		if dt == jsonparser.String {
			return d.str(i, value)
		}
		v, err = parseScalar(f, value, dt)
	default:
		err = wrongType(f, f.Type.String(), value)
	}
	if err != nil {
		return err
	}
	d.b.Set(i, v)
	return nil
}

func parseInt(f event.Field, value []byte, dt jsonparser.ValueType) (event.Value, error) {
	if dt != jsonparser.Number {
		return event.Value{}, wrongType(f, "an integer", value)
	}
	i, err := strconv.ParseInt(string(value), 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(string(value), 64)
		if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 {
			return event.Value{}, wrongType(f, "an integer", value)
		}
		i = int64(fl)
	}
	return event.Int(i), nil
}

func parseDouble(f event.Field, value []byte, dt jsonparser.ValueType) (event.Value, error) {
	if dt != jsonparser.Number {
		return event.Value{}, wrongType(f, "a number", value)
	}
	if fl, ok := shortDecimal(value); ok {
		return event.Double(fl), nil
	}
	fl, err := strconv.ParseFloat(string(value), 64)
	if err != nil || math.IsInf(fl, 0) {
		return event.Value{}, wrongType(f, "a number", value)
	}
	return event.Double(fl), nil
}

func parseTimestamp(f event.Field, value []byte, dt jsonparser.ValueType) (event.Value, error) {
	var ns, ms int64
	var ok bool
	switch dt {
	case jsonparser.String:
		if ns, ok = rfc3339UTC(value); ok {
			return event.TimestampNanos(ns), nil
		}
		t, err := time.Parse(time.RFC3339Nano, string(value))
		if err != nil {
			return event.Value{}, wrongType(f, "an RFC 3339 timestamp", value)
		}
		ns, ok = event.TimeNanos(t)
	case jsonparser.Number:
		var err error
		if ms, err = strconv.ParseInt(string(value), 10, 64); err != nil {
			return event.Value{}, wrongType(f, "epoch milliseconds", value)
		}
		ns, ok = event.MillisToNanos(ms)
	default:
		return event.Value{}, wrongType(f, "an RFC 3339 timestamp or epoch milliseconds", value)
	}
	if !ok {
		shown := string(value)
		if dt == jsonparser.Number {
			shown = fmt.Sprintf("%d ms", ms)
		}
		return event.Value{}, &event.DecodeError{Reason: event.ReasonTimeRange, Field: f.Name, Msg: shown + " is outside the years 1678 to 2262"}
	}
	return event.TimestampNanos(ns), nil
}

// parseScalar converts a non-string JSON scalar of a field of TypeAny.
func parseScalar(f event.Field, value []byte, dt jsonparser.ValueType) (event.Value, error) {
	switch dt {
	case jsonparser.Boolean:
		return event.Bool(value[0] == 't'), nil
	case jsonparser.Number:
		if bytes.ContainsAny(value, ".eE") {
			fl, err := strconv.ParseFloat(string(value), 64)
			if err != nil {
				return event.Value{}, wrongType(f, "a number", value)
			}
			return event.Double(fl), nil
		}
		i, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil {
			return event.Value{}, wrongType(f, "an integer", value)
		}
		return event.Int(i), nil
	}
	return event.Value{}, wrongType(f, "a scalar", value)
}
