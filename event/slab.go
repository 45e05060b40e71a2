package event

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unsafe"
)

// An event's values live in one byte slab, pointer-free so the garbage collector does not
// scan it (retained events are most of the engine's heap):
//
//	[nv kinds, one byte each][padding to 8][presence bitmap, (nv+63)/64 words]
//	[one word of 8 bytes per present value][string bytes]
//
// A missing value has kind 0 and no word; a present value's word is found by the number
// of present values before it (a popcount of the bitmap). A number's word is its bits (as
// in Value). A string of up to 8 bytes is its word: its kind byte is inlineString plus
// its length and the word holds its bytes (most of an event's strings are such codes and
// ids: on the reference workload 8 of the 10 strings of a retained event, 45 of its 73
// string bytes). A longer string's word is its offset in the slab (high 32 bits) and its
// length (low 32 bits). A slab is written once, by Builder.Build, and never changed
// after: copies of an Event share it, and strings read from it stay valid for as long as
// anything refers to them.

// inlineString marks, in a slab's kind byte, a string held in its word; the low bits are
// its length (0 … maxInline). Kinds proper are below it.
const (
	inlineString = 0x80
	maxInline    = 8
)

// bitmapAt returns where the presence bitmap of a slab of nv values starts.
func bitmapAt(nv int) int { return (nv + 7) &^ 7 }

// wordsAt returns where the words of a slab of nv values start.
func wordsAt(nv int) int { return bitmapAt(nv) + 8*((nv+63)/64) }

// SlabBytes returns the size of the slab of nv values, all present, without their
// strings' bytes.
func SlabBytes(nv int) int { return wordsAt(nv) + 8*nv }

// rank returns the number of present values before value i of the slab data of nv
// values: the index of value i's word.
func rank(data []byte, nv, i int) int {
	bm := bitmapAt(nv)
	r := 0
	for w := 0; w < i/64; w++ {
		r += bits.OnesCount64(binary.LittleEndian.Uint64(data[bm+8*w:]))
	}
	last := binary.LittleEndian.Uint64(data[bm+8*(i/64):])
	return r + bits.OnesCount64(last&(1<<(i%64)-1))
}

// Builder assembles the values of one event at a time and writes them into a new slab.
// Its buffers are reused from event to event; it is not safe for concurrent use.
type Builder struct {
	kinds []Kind
	words []uint64
	str   []byte
}

// Reset starts an event of n values, all missing.
func (b *Builder) Reset(n int) {
	if cap(b.kinds) < n {
		b.kinds, b.words = make([]Kind, n), make([]uint64, n)
	}
	b.kinds, b.words = b.kinds[:n], b.words[:n]
	clear(b.kinds)
	b.str = b.str[:0]
}

// Set sets the i-th value (a string's bytes are copied).
func (b *Builder) Set(i int, v Value) {
	if v.Kind == KindString {
		b.SetString(i, v.AsString())
		return
	}
	b.kinds[i], b.words[i] = v.Kind, v.n
}

// SetString sets the i-th value to the string s (copied).
func (b *Builder) SetString(i int, s string) {
	b.kinds[i], b.words[i] = KindString, uint64(len(b.str))<<32|uint64(len(s))
	b.str = append(b.str, s...)
}

// StringBuffer returns the string bytes written so far, for a decoder to append a
// string's bytes to (unescaping in place); CommitString then makes the bytes from off
// on the i-th value.
func (b *Builder) StringBuffer() []byte { return b.str }

// CommitString takes buf (StringBuffer with bytes appended) back and sets the i-th value
// to its bytes from off on.
func (b *Builder) CommitString(i int, buf []byte, off int) {
	b.str = buf
	b.kinds[i], b.words[i] = KindString, uint64(off)<<32|uint64(len(buf)-off)
}

// Kind returns the kind of the i-th value set so far.
func (b *Builder) Kind(i int) Kind { return b.kinds[i] }

// Clear makes the i-th value missing.
func (b *Builder) Clear(i int) { b.kinds[i], b.words[i] = KindMissing, 0 }

// Value returns the i-th value set so far. A string points into the builder's buffer:
// it is valid only until the builder's next Reset or Set.
func (b *Builder) Value(i int) Value { return wordValue(b.kinds[i], b.words[i], b.str) }

// wordValue is the value of kind k stored as the word w: the number's bits, or for a
// string its offset in strs (high 32 bits) and length (low 32 bits).
func wordValue(k Kind, w uint64, strs []byte) Value {
	if k != KindString {
		return Value{Kind: k, n: w}
	}
	n := w & 0xffffffff
	if n == 0 {
		return Value{Kind: KindString}
	}
	return Value{Kind: KindString, p: unsafe.SliceData(strs[w>>32:]), n: n}
}

// Build writes the values into a new slab (one allocation) and makes them ev's.
func (b *Builder) Build(ev *Event) {
	nv := len(b.kinds)
	if nv == 0 {
		ev.data, ev.size, ev.nv = nil, 0, 0
		return
	}
	np, sb := 0, 0 // present values; bytes of the strings not held in their word
	for i, k := range b.kinds {
		if k == KindMissing {
			continue
		}
		np++
		if n := int(b.words[i] & 0xffffffff); k == KindString && n > maxInline {
			sb += n
		}
	}
	bm, wa := bitmapAt(nv), wordsAt(nv)
	sa := wa + 8*np
	if uint64(sa+sb) > math.MaxUint32 { // string offsets are 32-bit words too
		panic("event: values of 4 GiB or more")
	}
	data := make([]byte, sa+sb)
	r := 0
	for i, k := range b.kinds {
		if k == KindMissing {
			continue
		}
		data[bm+i/8] |= 1 << (i % 8) // little-endian words: bit i of the bitmap
		at, w := wa+8*r, b.words[i]
		r++
		if k == KindString {
			off, n := int(w>>32), int(w&0xffffffff)
			if n <= maxInline {
				data[i] = inlineString | byte(n)
				copy(data[at:], b.str[off:off+n])
				continue
			}
			w = uint64(sa)<<32 | uint64(n)
			sa += copy(data[sa:], b.str[off:off+n])
		}
		data[i] = byte(k)
		binary.LittleEndian.PutUint64(data[at:], w)
	}
	ev.data, ev.size, ev.nv = unsafe.SliceData(data), uint32(len(data)), uint32(nv)
}
