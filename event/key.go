package event

import "strconv"

// KeyString returns the value as a key, as the decoder makes Event.Key of the key field:
// strings as they are, numbers and booleans in their shortest text ("" when absent).
func (v Value) KeyString() string {
	switch v.Kind {
	case KindString:
		return v.AsString()
	case KindInt:
		return strconv.FormatInt(v.AsInt(), 10)
	case KindDouble:
		return strconv.FormatFloat(v.AsDouble(), 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.AsBool())
	case KindTimestamp:
		return strconv.FormatInt(v.AsTimeNanos(), 10)
	}
	return ""
}
