package jsondecode

import (
	"encoding/binary"
	"math/bits"

	"github.com/buger/jsonparser"
)

// The fast path. Card events are flat objects of scalars: flat reads such an object in
// one pass, with the same token rules as jsonparser (a value's type by its first byte, a
// number or literal running to the next blank, ',', '}' or ']'), converting each member's
// value into the builder as it goes. It declines anything else — a nested object or
// array, a backslash in a key or a string value, any malformed syntax, a value the schema
// refuses — having counted no unknown field; Decode then starts again with
// jsonparser.ObjectEach (the slow path), which also words the errors. TestScanFlatAgrees
// and FuzzScanFlatAgrees check that the two paths decode alike.

// member is the key of an unknown member flat found: its offsets in the object. Offsets,
// not slices: the scratch holds no pointers, so filling it costs no write barriers while
// the collector runs.
type member struct {
	ks, ke int32
}

// maxMembers bounds the members flat reads; an object with more takes the slow path.
const maxMembers = 64

// flat decodes the object data (trimmed, data[0] == '{') into the builder (Reset) and
// counts its unknown members, and reports true; or reports false, the builder in an
// unspecified state and nothing counted, when the fast path declines the object (see
// above).
func (d *Decoder) flat(data []byte) bool {
	d.scratch = d.scratch[:0]
	i := skipBlanks(data, 1)
	if i < len(data) && data[i] == '}' {
		return i+1 == len(data)
	}
	for j := range maxMembers {
		if i >= len(data) || data[i] != '"' {
			return false
		}
		f, e := d.predict(data, i+1, j) // e: after the colon
		if f < 0 {                      // not the field the j-th member named last time, and a colon after it
			var ok bool
			if e, ok = plainString(data, i+1); !ok {
				return false
			}
			if f, ok = d.field(data[i+1:e-1], j); !ok {
				d.scratch = append(d.scratch, member{ks: int32(i + 1), ke: int32(e - 1)})
				f = -1
			}
			if i = skipBlanks(data, e); i >= len(data) || data[i] != ':' {
				return false
			}
			e = i + 1
		}
		if i = skipBlanks(data, e); i >= len(data) {
			return false
		}
		if e, ok := d.value(data, i, f); !ok {
			return false
		} else if i = skipBlanks(data, e); i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipBlanks(data, i+1)
		case '}':
			if i+1 != len(data) {
				return false
			}
			if d.unknown != nil {
				for _, m := range d.scratch {
					d.unknown.Add(data[m.ks:m.ke])
				}
			}
			return true
		default:
			return false
		}
	}
	return false
}

// value reads the scalar value starting at data[i] (i < len(data)) and, when f ≥ 0, sets
// field f to it. It returns the offset after the value, false when it declines.
func (d *Decoder) value(data []byte, i, f int) (int, bool) {
	if data[i] == '"' {
		if f >= 0 && d.isString[f] && len(data)-i >= 10 {
			if e, ok := d.shortString(data, i+1, f); ok {
				return e, true
			}
		}
		e, ok := plainString(data, i+1)
		if !ok || f < 0 {
			return e, ok
		}
		if n := e - 1 - (i + 1); d.isString[f] && n <= d.maxStr {
			d.b.SetStringIn(f, data, i+1, n)
			return e, true
		}
		return e, d.convert(f, d.schema.Fields[f], data[i+1:e-1], jsonparser.String) == nil
	}
	e := i
	for e < len(data) && !ends[data[e]] {
		e++
	}
	tok := data[i:e]
	var dt jsonparser.ValueType
	switch data[i] {
	case 't', 'f':
		if string(tok) != "true" && string(tok) != "false" {
			return 0, false
		}
		dt = jsonparser.Boolean
	case 'n':
		if string(tok) != "null" {
			return 0, false
		}
		dt = jsonparser.Null
	case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '-':
		dt = jsonparser.Number
	default:
		return 0, false
	}
	return e, f < 0 || d.convert(f, d.schema.Fields[f], tok, dt) == nil
}

// ends marks the bytes that end a number or a literal (as in jsonparser's tokenEnd).
var ends = [256]bool{' ': true, '\n': true, '\r': true, '\t': true, ',': true, '}': true, ']': true}

// shortString sets field f to the string whose bytes start at data[i] (after its opening
// quote; len(data)-i >= 9) when it is plain, at most 8 bytes long and within the bound on
// strings, from the one word
// that plainString would read first (and the byte after it): the word, its bytes past the
// string masked out, is the string's slab word. It returns the offset after the closing
// quote, or false (nothing set) for any other string.
func (d *Decoder) shortString(data []byte, i, f int) (int, bool) {
	w := binary.LittleEndian.Uint64(data[i:])
	n := bits.TrailingZeros64(specials(w)) / 8 // 8 when there is none
	if data[i+n] != '"' || n > d.maxStr {
		return 0, false
	}
	d.b.SetInline(f, w&(1<<(8*n)-1), n) // n == 8: 1<<64 is 0, all ones
	return i + n + 1, true
}

// predict returns the field the j-th member named in the previous event (Decoder.field)
// and the offset after the colon that follows the key starting at data[ks], when the key
// is that field's name and the colon follows its closing quote at once; -1 otherwise. The
// names predicted hold no quote and no backslash, so matching the name, a quote and a
// colon is reading the key and the colon.
func (d *Decoder) predict(data []byte, ks, j int) (int, int) {
	f := int(d.order[j])
	if f < 0 {
		return -1, 0
	}
	key := d.keys[f]
	e := ks + len(key)
	if e > len(data) || key == "" || string(data[ks:e]) != key {
		return -1, 0
	}
	return f, e
}

// skipBlanks returns the offset of the first byte from data[i] on that is not a blank
// (len(data) if none). Blanks are below '!': a byte above it, the usual next byte, is
// answered without a loop (inlined).
func skipBlanks(data []byte, i int) int {
	if i < len(data) && data[i] > ' ' {
		return i
	}
	return skipBlanksLoop(data, i)
}

func skipBlanksLoop(data []byte, i int) int {
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

// Bytes repeated in each byte of a word, for plainString's search.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
	quote = '"' * ones
	bslsh = '\\' * ones
)

// specials marks the bytes of the 8-byte word w (bytes in little-endian order) that may
// be a quote or a backslash: (x-ones)&^x&highs marks the zero bytes of x (and may mark
// bytes after the first zero byte, never one before it), so the lowest mark of
// specials(w) is w's first quote or backslash.
func specials(w uint64) uint64 {
	q, b := w^quote, w^bslsh
	return ((q - ones) &^ q & highs) | ((b - ones) &^ b & highs)
}

// plainString returns the offset after the closing quote of the string whose bytes
// start at data[i] (after its opening quote); false when it holds a backslash or does
// not end. It looks at 8 bytes at a time (specials).
func plainString(data []byte, i int) (int, bool) {
	for ; i+8 <= len(data); i += 8 {
		if m := specials(binary.LittleEndian.Uint64(data[i:])); m != 0 {
			j := i + bits.TrailingZeros64(m)/8
			return j + 1, data[j] == '"'
		}
	}
	return plainStringBytewise(data, i)
}

// plainStringBytewise is plainString a byte at a time: its tail, and its reference in
// TestPlainStringMatchesBytewise.
func plainStringBytewise(data []byte, i int) (int, bool) {
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
