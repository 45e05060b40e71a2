package jsondecode

import (
	"time"

	"github.com/cepd/cepd/event"
)

// Aliases of the names of package event the decoder is written with. The decoder was part
// of package event until its JSON parser was moved out of the matcher's dependencies;
// these keep its code reading as it did there. Callers use package event's names.

type (
	Schema      = event.Schema
	Event       = event.Event
	Value       = event.Value
	Field       = event.Field
	Bounds      = event.Bounds
	DecodeError = event.DecodeError
	// UnknownFields counts the fields the schema does not declare.
	UnknownFields = event.UnknownFields
)

const (
	ReasonBadJSON       = event.ReasonBadJSON
	ReasonNotObject     = event.ReasonNotObject
	ReasonMissingKey    = event.ReasonMissingKey
	ReasonMissingTime   = event.ReasonMissingTime
	ReasonMissingField  = event.ReasonMissingField
	ReasonWrongType     = event.ReasonWrongType
	ReasonReservedKey   = event.ReasonReservedKey
	ReasonInvalidUTF8   = event.ReasonInvalidUTF8
	ReasonFieldTooLarge = event.ReasonFieldTooLarge
	ReasonTimeRange     = event.ReasonTimeRange

	KindNull      = event.KindNull
	KindString    = event.KindString
	KindInt       = event.KindInt
	KindDouble    = event.KindDouble
	KindBool      = event.KindBool
	KindTimestamp = event.KindTimestamp

	TypeString    = event.TypeString
	TypeBool      = event.TypeBool
	TypeInt       = event.TypeInt
	TypeDouble    = event.TypeDouble
	TypeTimestamp = event.TypeTimestamp
	TypeAny       = event.TypeAny

	MinTime = event.MinTime
	MaxTime = event.MaxTime
)

func Null() Value                   { return event.Null() }
func String(s string) Value         { return event.String(s) }
func Bool(b bool) Value             { return event.Bool(b) }
func Int(i int64) Value             { return event.Int(i) }
func Double(f float64) Value        { return event.Double(f) }
func TimestampNanos(ns int64) Value { return event.TimestampNanos(ns) }

func msToNanos(ms int64) (int64, bool)    { return event.MillisToNanos(ms) }
func timeNanos(t time.Time) (int64, bool) { return event.TimeNanos(t) }
