package jsondecode

import (
	"encoding/binary"
	"math/bits"
	"strings"

	"github.com/cepd/cepd/event"
)

// fieldCode is what the fast path knows of a declared field, made once from the schema.
type fieldCode struct {
	// k0 and k1 are the bytes of the field's name in quotes and a colon after it, as a
	// member spells its key, as little-endian words, and m0 and m1 mask the n bytes the
	// key has of them; n is 0 for a key longer than 16 bytes or a name no key the fast
	// path reads can spell (one holding a quote or a backslash): such a field is found by
	// its name (Decoder.field), and its k0 is 1 and m0 0, so that `is` matches no words
	// (flatMember makes such a field the prediction for its position; is then answers
	// false without a test of n).
	k0, k1, m0, m1 uint64
	n              int
	// str marks a field of type string or any: a JSON string is its value.
	str bool
	op  op
}

// newFieldCode returns the code of field f.
func newFieldCode(f event.Field) fieldCode {
	c := fieldCode{str: f.Type == event.TypeString || f.Type == event.TypeAny, k0: 1}
	if key := `"` + f.Name + `":`; len(key) <= 16 && !strings.ContainsAny(f.Name, "\"\\") {
		var b [16]byte
		copy(b[:], key)
		c.k0, c.k1, c.n = binary.LittleEndian.Uint64(b[:]), binary.LittleEndian.Uint64(b[8:]), len(key)
		c.m0, c.m1 = keyMasks(len(key))
	}
	switch f.Type {
	case event.TypeString, event.TypeAny:
		c.op = opString
	case event.TypeDouble:
		c.op = opDouble
	case event.TypeInt:
		c.op = opInt
	case event.TypeTimestamp:
		c.op = opTimestamp
	case event.TypeBool:
		c.op = opBool
	}
	return c
}

// is reports whether the 16 bytes w0, w1 (little-endian) start with c's key (never for
// a code of n 0: w0&0 is not 1).
func (c *fieldCode) is(w0, w1 uint64) bool {
	return w0&c.m0 == c.k0 && w1&c.m1 == c.k1
}

// keyMasks returns the masks of the first n bytes (n <= 16) of two little-endian words.
func keyMasks(n int) (m0, m1 uint64) {
	for k := range n {
		if k < 8 {
			m0 |= 0xff << (8 * k)
		} else {
			m1 |= 0xff << (8 * (k - 8))
		}
	}
	return m0, m1
}

// keyTable finds a field by the first 16 bytes of a member, its key in quotes and the
// colon after it: an open-addressed hash table of the fields with a fieldCode key,
// specialised to the schema's names when the decoder is made. Finding one is finding the
// closing quote in the two words, masking the bytes after the colon out, one
// multiplication and (mostly) one comparison of two words: no scan of the key, no
// string comparison.
type keyTable struct {
	slots []int32 // a field, -1 for an empty slot; a power of two long
	masks [17][2]uint64
}

// newKeyTable returns the table of codes' keys.
func newKeyTable(codes []fieldCode) keyTable {
	n := 16
	for n < 4*len(codes) {
		n *= 2
	}
	t := keyTable{slots: make([]int32, n)}
	for k := range t.masks {
		t.masks[k][0], t.masks[k][1] = keyMasks(k)
	}
	for k := range t.slots {
		t.slots[k] = -1
	}
	for f, c := range codes {
		if c.n == 0 {
			continue
		}
		h := t.hash(c.k0, c.k1)
		for t.slots[h] >= 0 {
			h = (h + 1) & (len(t.slots) - 1)
		}
		t.slots[h] = int32(f)
	}
	return t
}

// hash returns the slot a key of words k0, k1 (masked) hashes to.
func (t *keyTable) hash(k0, k1 uint64) int {
	return int(((k0^bits.RotateLeft64(k1, 29))*0x9e3779b97f4a7c15)>>40) & (len(t.slots) - 1)
}

// find returns the field whose key (in quotes, with the colon after it) starts the 16
// bytes w0, w1 (little-endian; byte 0 is the key's opening quote), -1 when there is
// none: the key's closing quote is the first quote or backslash after the opening one
// (specials; a backslash or none within the words leaves the key to the slow lookup).
func (t *keyTable) find(codes []fieldCode, w0, w1 uint64) int {
	var q int // the closing quote's position in the 16 bytes
	if m := specials(w0 >> 8); m != 0 {
		q = 1 + bits.TrailingZeros64(m)/8
	} else if m = specials(w1); m != 0 {
		q = 8 + bits.TrailingZeros64(m)/8
	} else {
		return -1
	}
	n := q + 2 // the key with its quotes and the colon
	if n > 16 {
		return -1
	}
	m := &t.masks[n]
	k0, k1 := w0&m[0], w1&m[1]
	for h := t.hash(k0, k1); ; h = (h + 1) & (len(t.slots) - 1) {
		f := t.slots[h]
		if f < 0 {
			return -1
		}
		if c := &codes[f]; c.k0 == k0 && c.k1 == k1 && c.n == n {
			return int(f)
		}
	}
}
