package alerts

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
)

// appendFieldsJSON appends what json.Marshal(fields) gives (nothing when it fails) to
// dst, which an alert's id digests. The fields of a matched event (event.Event.Fields:
// strings, bools, int64s and float64s) are written directly when each is one json
// writes plainly: a string (and key) of printable ASCII other than the characters json
// escapes ("\<>&), a float json writes without an exponent; for anything else the
// whole map goes to json.Marshal, so that the bytes, and ids, are always its.
// TestFieldsJSONMatchesMarshal compares the two.
func appendFieldsJSON(dst []byte, fields map[string]any, keys *[]string) []byte {
	if fields == nil { // json writes null
		return marshalFields(dst, fields)
	}
	ks := (*keys)[:0]
	for k := range fields {
		ks = append(ks, k)
	}
	slices.Sort(ks) // json sorts a map's keys by their bytes too
	*keys = ks
	start := len(dst)
	dst = append(dst, '{')
	for i, k := range ks {
		if !plainJSON(k) {
			return marshalFields(dst[:start], fields)
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, '"', ':')
		var ok bool
		if dst, ok = appendPlainValue(dst, fields[k]); !ok {
			return marshalFields(dst[:start], fields)
		}
	}
	return append(dst, '}')
}

// appendPlainValue appends v as json writes it, when it is a value appendFieldsJSON
// writes directly (ok false otherwise).
func appendPlainValue(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		if !plainJSON(x) {
			return dst, false
		}
		dst = append(dst, '"')
		dst = append(dst, x...)
		return append(dst, '"'), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case float64:
		// json writes a float with 'f' unless it is NaN or infinite (an error) or its
		// magnitude is below 1e-6 or at least 1e21 (an exponent, which it trims)
		if a := math.Abs(x); math.IsNaN(x) || math.IsInf(x, 0) || a != 0 && (a < 1e-6 || a >= 1e21) {
			return dst, false
		}
		return strconv.AppendFloat(dst, x, 'f', -1, 64), true
	}
	return dst, false
}

// plainJSON reports whether json writes s between quotes as it is: printable ASCII
// without '"', '\\' or the characters it escapes for HTML.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// marshalFields appends json.Marshal(fields) to dst (nothing when it fails: an id
// digests the empty bytes then, as it always has).
func marshalFields(dst []byte, fields map[string]any) []byte {
	b, err := json.Marshal(fields)
	if err != nil {
		return dst
	}
	return append(dst, b...)
}
