package jsondecode

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/buger/jsonparser"

	"github.com/cepd/cepd/event"
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
		e, hit := d.predicted(data, i, j)
		if !hit {
			if i >= len(data) || data[i] != '"' {
				return false
			}
			var ok bool
			if e, ok = d.flatMember(data, i, j); !ok {
				return false
			}
		} else if e < 0 {
			return false
		}
		if e+1 < len(data) && data[e] == ',' && data[e+1] == '"' { // the usual: the next key at once
			i = e + 1
			continue
		}
		if i = skipBlanks(data, e); i >= len(data) {
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

// predicted reads the j-th member of the object, starting at data[i], when its key is
// the name of a field and the colon follows its closing quote at once: it reports hit and
// returns the offset after the value, set as fieldValue sets it (-1: declined). The key,
// its quotes and the colon are read as two words: compared first with the field the
// j-th member named in the previous event (Decoder.field; fieldCode.is), else looked up
// in the schema's key table (keyTable.find), which then becomes the j-th member's
// prediction. A string or a short decimal right after the colon is read here, without
// fieldValue's calls (one member in two of a card event is a string of up to 8 bytes).
// A miss (hit false: an unknown member, a name of more than 14 bytes, fewer than 16
// bytes left, a blank or an escape in the key) has read and set nothing.
func (d *Decoder) predicted(data []byte, i, j int) (e int, hit bool) {
	if i+16 > len(data) {
		return 0, false
	}
	w := data[i : i+16]
	w0, w1 := binary.LittleEndian.Uint64(w), binary.LittleEndian.Uint64(w[8:])
	codes := d.codes
	f := int(d.order[j&(maxMembers-1)]) // j < maxMembers (flat): no bounds check
	if uint(f) >= uint(len(codes)) || !codes[f].is(w0, w1) {
		if f = d.table.find(codes, w0, w1); f < 0 {
			return 0, false
		}
		d.order[j&(maxMembers-1)] = int32(f)
	}
	c := &codes[f]
	v := i + c.n
	switch {
	case c.op == opString && v+10 <= len(data) && data[v] == '"':
		if sw, n, ok := shortWord((*[9]byte)(data[v+1 : v+10])); ok && n <= d.maxStr {
			d.b.SetInline(f, sw, n)
			return v + n + 2, true
		}
		if e, ok := plainString(data, v+1); ok && e-v-2 <= d.maxStr {
			d.b.SetStringIn(f, data, v+1, e-v-2)
			return e, true
		}
	case c.op == opDouble:
		if x, e, ok := decimalPrefix(data, v); ok && tokenEnds(data, e) {
			d.b.SetWord(f, event.KindDouble, math.Float64bits(x))
			return e, true
		}
	}
	e, ok := d.fieldValue(data, skipBlanks(data, v), f)
	if !ok {
		return -1, true
	}
	return e, true
}

// flatMember reads the j-th member of the object, whose key's opening quote is data[i],
// when predicted did not: the key is scanned and looked up (Decoder.field). It sets the
// member's field and returns the offset after its value, false when it declines.
func (d *Decoder) flatMember(data []byte, i, j int) (int, bool) {
	e, ok := plainString(data, i+1)
	if !ok {
		return 0, false
	}
	f, ok := d.field(data[i+1:e-1], j)
	if !ok {
		d.scratch = append(d.scratch, member{ks: int32(i + 1), ke: int32(e - 1)})
		f = -1
	}
	if i = skipBlanks(data, e); i >= len(data) || data[i] != ':' {
		return 0, false
	}
	return d.fieldValue(data, skipBlanks(data, i+1), f)
}

// op is how the fast path reads a declared field's value in its common shape, in place
// and without a token to convert; any other shape (and a value the shortcut declines,
// having set nothing) is left to value.
type op uint8

const (
	opScalar    op = iota // no shortcut
	opString              // string or any: a string of up to 8 bytes from one word (shortString)
	opDouble              // double: a short decimal (decimalPrefix)
	opInt                 // int: an integer of up to 18 digits (intPrefix)
	opTimestamp           // timestamp: an RFC 3339 UTC string (rfc3339UTC)
	opBool                // bool: true or false
)

// fieldValue reads the value starting at data[i] and, when f ≥ 0, sets field f to it:
// by the field's shortcut (op) when the value has its common shape, else by value. It
// returns the offset after the value, false when it declines.
func (d *Decoder) fieldValue(data []byte, i, f int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	if f >= 0 {
		e, ok := 0, false
		switch d.codes[f].op {
		case opString:
			e, ok = d.shortString(data, i, f)
		case opDouble:
			e, ok = d.double(data, i, f)
		case opInt:
			e, ok = d.integer(data, i, f)
		case opTimestamp:
			e, ok = d.timestamp(data, i, f)
		case opBool:
			e, ok = d.boolean(data, i, f)
		}
		if ok {
			return e, true
		}
	}
	return d.value(data, i, f)
}

// double sets field f to the short decimal starting at data[i] (decimalPrefix) when the
// number token ends right after it; it returns the offset after it, false (nothing set)
// otherwise. That is what value's conversion of the token gives (parseDouble: the token
// is what decimalPrefix read, so shortDecimal reads it too).
func (d *Decoder) double(data []byte, i, f int) (int, bool) {
	v, e, ok := decimalPrefix(data, i)
	if !ok || !tokenEnds(data, e) {
		return 0, false
	}
	d.b.SetWord(f, event.KindDouble, math.Float64bits(v))
	return e, true
}

// integer sets field f to the integer starting at data[i] (intPrefix) when the number
// token ends right after it, as double does; strconv.ParseInt (parseInt) reads such a
// token alike.
func (d *Decoder) integer(data []byte, i, f int) (int, bool) {
	n, e, ok := intPrefix(data, i)
	if !ok || !tokenEnds(data, e) {
		return 0, false
	}
	d.b.SetWord(f, event.KindInt, uint64(n))
	return e, true
}

// timestamp sets field f to the time of the plain string starting at data[i] when
// rfc3339UTC reads it (parseTimestamp's own first try; here by the decoder's date cache,
// Decoder.dates); it returns the offset after the string, false (nothing set) otherwise.
func (d *Decoder) timestamp(data []byte, i, f int) (int, bool) {
	if data[i] != '"' {
		return 0, false
	}
	e := i + 26 // the usual shape, with milliseconds: "YYYY-MM-DDTHH:MM:SS.mmmZ"
	if e > len(data) || data[e-1] != '"' {
		var ok bool
		if e, ok = plainString(data, i+1); !ok {
			return 0, false
		}
	}
	// a string rfc3339 reads holds no quote or backslash: at the usual length it is
	// the whole string
	ns, ok := d.dates.rfc3339(data[i+1 : e-1])
	if !ok {
		return 0, false
	}
	d.b.SetWord(f, event.KindTimestamp, uint64(ns))
	return e, true
}

// boolean sets field f to the literal true or false starting at data[i] when its token
// ends right after it; it returns the offset after it, false (nothing set) otherwise.
func (d *Decoder) boolean(data []byte, i, f int) (int, bool) {
	if e := i + 4; e < len(data) && string(data[i:e]) == "true" && tokenEnds(data, e) {
		d.b.SetWord(f, event.KindBool, 1)
		return e, true
	}
	if e := i + 5; e < len(data) && string(data[i:e]) == "false" && tokenEnds(data, e) {
		d.b.SetWord(f, event.KindBool, 0)
		return e, true
	}
	return 0, false
}

// value reads the scalar value starting at data[i] (i < len(data)) and, when f ≥ 0, sets
// field f to it. It returns the offset after the value, false when it declines.
func (d *Decoder) value(data []byte, i, f int) (int, bool) {
	if data[i] == '"' {
		e, ok := plainString(data, i+1)
		if !ok || f < 0 {
			return e, ok
		}
		if n := e - 1 - (i + 1); d.codes[f].str && n <= d.maxStr {
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

// tokenEnds reports whether a number or literal read up to data[e] (not included) ends
// there, as value's scan of the token would end it: data[e] is one of ends. Past the
// data it does not end (the object's '}' is still to come): the shortcuts decline.
func tokenEnds(data []byte, e int) bool { return e < len(data) && ends[data[e]] }

// shortString sets field f (a string field) to the string starting at data[i] when it
// is plain, at most 8 bytes long and within the bound on strings, from the one word
// that plainString would read first (shortWord). It returns the offset after the closing
// quote, or false (nothing set) for any other value.
func (d *Decoder) shortString(data []byte, i, f int) (int, bool) {
	if data[i] != '"' || len(data)-i < 10 {
		return 0, false
	}
	w, n, ok := shortWord((*[9]byte)(data[i+1 : i+10]))
	if !ok || n > d.maxStr {
		return 0, false
	}
	d.b.SetInline(f, w, n)
	return i + n + 2, true
}

// shortWord reads the string whose bytes are the 9 bytes s (after its opening quote)
// from the one word plainString would read first (and the byte after it): when the
// string is plain and at most 8 bytes long, the word with its bytes past the string
// masked out is the string's slab word, and n its length; false for any other string.
// The mask is read off the word's first special byte, the lowest bit m&-m of its
// specials (bit 7 of that byte; none: 0, all ones), without a shift by n.
func shortWord(s *[9]byte) (w uint64, n int, ok bool) {
	w = binary.LittleEndian.Uint64(s[:8])
	m := specials(w)
	n = bits.TrailingZeros64(m) / 8 // 8 when there is none
	return w & ((m&-m)>>7 - 1), n, s[n] == '"'
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
