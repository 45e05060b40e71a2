package event

import (
	"math"
	"strconv"
	"time"
	"unsafe"
)

// Type is the declared type of a schema field.
type Type uint8

// Field types. TypeAny is only used by schemas inferred from data (conformance cases),
// where a field may hold values of several types.
const (
	TypeInvalid Type = iota
	TypeBool
	TypeInt
	TypeDouble
	TypeString
	TypeTimestamp
	TypeAny
)

var typeNames = [...]string{"invalid", "bool", "int", "double", "string", "timestamp", "any"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// ParseType maps a schema file's type name to a Type.
func ParseType(s string) (Type, bool) {
	switch s {
	case "bool", "boolean":
		return TypeBool, true
	case "int", "long", "integer":
		return TypeInt, true
	case "double", "float", "number":
		return TypeDouble, true
	case "string":
		return TypeString, true
	case "timestamp", "time":
		return TypeTimestamp, true
	}
	return TypeInvalid, false
}

// Kind is the kind of value actually stored in a Value.
type Kind uint8

// Value kinds. KindMissing is the zero value: the field was absent from the event.
const (
	KindMissing Kind = iota
	KindNull
	KindBool
	KindInt
	KindDouble
	KindString
	KindTimestamp
)

// Value is one field value: a small tagged union of 24 bytes (no interface boxing, no
// pointer for numbers). A string is its data pointer and its length in n (one pointer
// word in three: retained events are most of the engine's heap, and the collector scans
// every word of them); a number is its bits in n. Timestamps hold Unix nanoseconds.
type Value struct {
	p    *byte // the string's bytes (KindString), else nil
	n    uint64
	Kind Kind
}

// Constructors.
func Bool(b bool) Value {
	if b {
		return Value{Kind: KindBool, n: 1}
	}
	return Value{Kind: KindBool}
}
func Int(i int64) Value      { return Value{Kind: KindInt, n: uint64(i)} }
func Double(f float64) Value { return Value{Kind: KindDouble, n: math.Float64bits(f)} }
func String(s string) Value {
	return Value{Kind: KindString, p: unsafe.StringData(s), n: uint64(len(s))}
}
func Timestamp(t time.Time) Value   { return Value{Kind: KindTimestamp, n: uint64(t.UnixNano())} }
func TimestampNanos(ns int64) Value { return Value{Kind: KindTimestamp, n: uint64(ns)} }
func Null() Value                   { return Value{Kind: KindNull} }
func (v Value) Present() bool       { return v.Kind != KindMissing }
func (v Value) AsBool() bool        { return v.n != 0 }
func (v Value) AsInt() int64        { return int64(v.n) }
func (v Value) AsDouble() float64   { return math.Float64frombits(v.n) }
func (v Value) AsString() string    { return unsafe.String(v.p, int(v.n)) }
func (v Value) AsTimeNanos() int64  { return int64(v.n) }
func (v Value) AsTime() time.Time   { return time.Unix(0, int64(v.n)).UTC() }

// Number returns the value as a float64 when it is numeric.
func (v Value) Number() (float64, bool) {
	switch v.Kind {
	case KindInt:
		return float64(v.AsInt()), true
	case KindDouble:
		return v.AsDouble(), true
	}
	return 0, false
}

// Interface returns the value as a plain Go value (for JSON output and tests).
func (v Value) Interface() any {
	switch v.Kind {
	case KindBool:
		return v.AsBool()
	case KindInt:
		return v.AsInt()
	case KindDouble:
		return v.AsDouble()
	case KindString:
		return v.AsString()
	case KindTimestamp:
		return v.AsTime().Format(time.RFC3339Nano)
	}
	return nil
}

// Equal reports whether two values are identical in kind and content.
func (v Value) Equal(o Value) bool {
	return v.Kind == o.Kind && v.n == o.n && (v.Kind != KindString || v.AsString() == o.AsString())
}
