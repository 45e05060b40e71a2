package event

import "fmt"

// Reasons a malformed event is rejected. They are stable strings: metrics and the
// dead-letter path count by them.
const (
	ReasonBadJSON      = "bad_json"
	ReasonNotObject    = "not_object"
	ReasonMissingKey   = "missing_key"
	ReasonMissingTime  = "missing_time"
	ReasonMissingField = "missing_field"
	ReasonWrongType    = "wrong_type"
	// ReasonReservedKey: the key starts with a NUL byte, which cepd reserves for its own
	// entries beside the keys' states (engine: a partition's held records).
	ReasonReservedKey = "reserved_key"
)

// DecodeError says why an event could not be decoded.
type DecodeError struct {
	Reason string // one of the Reason constants
	Field  string // the offending field, if any
	Msg    string
}

func (e *DecodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: field %q: %s", e.Reason, e.Field, e.Msg)
	}
	return e.Reason + ": " + e.Msg
}
