package jsondecode

import (
	"github.com/buger/jsonparser"
)

// The fast path. Card events are flat objects of scalars: scanFlat reads such an object in
// one pass, with the same token rules as jsonparser (a value's type by its first byte, a
// number or literal running to the next blank, ',', '}' or ']'), and declines anything
// else — a nested object or array, a backslash in a key or a string value, any malformed
// syntax — before it has changed anything. Decode then runs jsonparser.ObjectEach (the
// slow path), which also gives malformed input its error. TestScanFlatAgrees checks that
// the two paths decode alike.

// member is one member of an object as scanFlat found it: offsets of its key and value
// (a string's without the quotes) in the object. Offsets, not slices: the scratch holds
// no pointers, so filling it costs no write barriers while the collector runs.
type member struct {
	ks, ke, vs, ve int32
	dt             jsonparser.ValueType
}

// maxMembers bounds the members scanFlat collects; an object with more takes the slow path.
const maxMembers = 64

// scanFlat appends the members of the object data (trimmed, data[0] == '{') to out. It
// reports false, with out in an unspecified state, when data is not a flat object it
// reads (see above).
func scanFlat(data []byte, out []member) ([]member, bool) {
	i := skipBlanks(data, 1)
	if i < len(data) && data[i] == '}' {
		return out, i+1 == len(data)
	}
	for len(out) < maxMembers {
		if i >= len(data) || data[i] != '"' {
			return out, false
		}
		e, ok := plainString(data, i+1)
		if !ok {
			return out, false
		}
		m := member{ks: int32(i + 1), ke: int32(e - 1)}
		if i = skipBlanks(data, e); i >= len(data) || data[i] != ':' {
			return out, false
		}
		i = skipBlanks(data, i+1)
		var vs int
		if vs, e, m.dt, ok = scalar(data, i); !ok {
			return out, false
		}
		m.vs, m.ve = int32(vs), int32(e)
		if m.dt == jsonparser.String {
			m.ve--
		}
		out = append(out, m)
		if i = skipBlanks(data, e); i >= len(data) {
			return out, false
		}
		switch data[i] {
		case ',':
			i = skipBlanks(data, i+1)
		case '}':
			return out, i+1 == len(data)
		default:
			return out, false
		}
	}
	return out, false
}

func skipBlanks(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

// plainString returns the offset after the closing quote of the string whose bytes
// start at data[i] (after its opening quote); false when it holds a backslash or does
// not end.
func plainString(data []byte, i int) (int, bool) {
	for j := i; j < len(data); j++ {
		switch data[j] {
		case '"':
			return j + 1, true
		case '\\':
			return 0, false
		}
	}
	return 0, false
}

// scalar reads the scalar value starting at data[i]: where its bytes start (a string's
// after the quote), the offset after it, and its type.
func scalar(data []byte, i int) (int, int, jsonparser.ValueType, bool) {
	if i >= len(data) {
		return 0, 0, 0, false
	}
	if data[i] == '"' {
		e, ok := plainString(data, i+1)
		return i + 1, e, jsonparser.String, ok
	}
	e := i
	for e < len(data) {
		c := data[e]
		if c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == ',' || c == '}' || c == ']' {
			break
		}
		e++
	}
	tok := data[i:e]
	switch data[i] {
	case 't', 'f':
		if string(tok) == "true" || string(tok) == "false" {
			return i, e, jsonparser.Boolean, true
		}
	case 'n':
		if string(tok) == "null" {
			return i, e, jsonparser.Null, true
		}
	case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-':
		return i, e, jsonparser.Number, true
	}
	return 0, 0, 0, false
}
