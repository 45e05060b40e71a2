package event

import (
	"encoding/binary"
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
//
// It keeps each value as the slab will: kinds holds the slab's kind bytes (a string of
// up to maxInline bytes already inlineString plus its length, its bytes packed into its
// word), so Build copies the kind bytes in one go. str holds only the longer strings'
// bytes (a string's word is its offset there and its length); when they lie there in
// field order and nothing else does, as for a producer's usual event, Build copies them
// in one go too.
type Builder struct {
	boxed bool // Build allocates slabs in boxes (SetBoxed)
	kinds []byte
	words []uint64
	str   []byte
	pres  []uint64 // Build's scratch: presence's two words for each 64 values
}

// SetBoxed says whether Build allocates slabs with room for a kept header (box.go): worth
// it when most events are kept (Event.Keep), 64 bytes and a slower allocation lost on
// each event that is not. Off by default; the engine's partitions decide per Ingest call
// (Engine.boxSlabs).
func (b *Builder) SetBoxed(on bool) { b.boxed = on }

// Reset starts an event of n values, all missing.
func (b *Builder) Reset(n int) {
	r := (n + 7) &^ 7 // kinds has zero bytes up to a multiple of 8 (Build reads words of it)
	if cap(b.kinds) < r || cap(b.words) < n {
		b.kinds, b.words = make([]byte, r), make([]uint64, n)
	}
	b.kinds, b.words = b.kinds[:n], b.words[:n]
	clear(b.kinds[:r])
	b.str = b.str[:0]
}

// Set sets the i-th value (a string's bytes are copied).
func (b *Builder) Set(i int, v Value) {
	if v.Kind == KindString {
		b.SetString(i, v.AsString())
		return
	}
	b.kinds[i], b.words[i] = byte(v.Kind), v.n
}

// SetString sets the i-th value to the string s (copied).
func (b *Builder) SetString(i int, s string) {
	off := len(b.str)
	b.CommitString(i, append(b.str, s...), off)
}

// StringBuffer returns the string bytes written so far, for a decoder to append a
// string's bytes to (unescaping in place); CommitString then makes the bytes from off
// on the i-th value.
func (b *Builder) StringBuffer() []byte { return b.str }

// CommitString takes buf (StringBuffer with bytes appended) back and sets the i-th value
// to its bytes from off on. A string of up to maxInline bytes moves into its word (and
// out of the buffer).
func (b *Builder) CommitString(i int, buf []byte, off int) {
	if n := len(buf) - off; n > maxInline {
		b.str = buf
		b.kinds[i], b.words[i] = byte(KindString), uint64(off)<<32|uint64(n)
		return
	}
	b.SetStringIn(i, buf[:cap(buf)], off, len(buf)-off) // the bytes past it are the builder's own
	b.str = buf[:off]
}

// SetInline sets the i-th value to the string of the n bytes (n <= 8) packed in w, byte k
// in bits 8k to 8k+7 (little-endian), and the bits past them zero: as a slab holds such a
// string in its word.
func (b *Builder) SetInline(i int, w uint64, n int) {
	b.kinds[i], b.words[i] = inlineString|byte(n), w
}

// SetStringIn sets the i-th value to the string src[off:off+n] (copied; n ≥ 0). It may
// read src's bytes after the string, up to len(src), but keeps none of them: a decoder
// passes the whole line the string is in, so that a short string is one 8-byte load.
func (b *Builder) SetStringIn(i int, src []byte, off, n int) {
	if n > maxInline {
		at := len(b.str)
		b.str = append(b.str, src[off:off+n]...)
		b.kinds[i], b.words[i] = byte(KindString), uint64(at)<<32|uint64(n)
		return
	}
	var w uint64
	if len(src)-off >= 8 { // read 8 bytes and keep the string's
		w = binary.LittleEndian.Uint64(src[off:off+8]) & (1<<(8*n) - 1) // n == 8: 1<<64 is 0, all ones
	} else {
		for k := n - 1; k >= 0; k-- {
			w = w<<8 | uint64(src[off+k])
		}
	}
	b.kinds[i], b.words[i] = inlineString|byte(n), w
}

// SetWord sets the i-th value to one of kind k, not a string (a bool, number or
// timestamp), whose bits are w as a Value holds them: Set without the Value.
func (b *Builder) SetWord(i int, k Kind, w uint64) { b.kinds[i], b.words[i] = byte(k), w }

// Kind returns the kind of the i-th value set so far.
func (b *Builder) Kind(i int) Kind {
	if k := b.kinds[i]; k < inlineString {
		return Kind(k)
	}
	return KindString
}

// Clear makes the i-th value missing.
func (b *Builder) Clear(i int) { b.kinds[i], b.words[i] = byte(KindMissing), 0 }

// Value returns the i-th value set so far. A string points into the builder's buffers:
// it is valid only until the builder's next Reset, Set or Clear.
func (b *Builder) Value(i int) Value {
	k := b.kinds[i]
	if k < inlineString {
		return wordValue(Kind(k), b.words[i], b.str)
	}
	if n := uint64(k &^ inlineString); n != 0 {
		return Value{Kind: KindString, p: (*byte)(unsafe.Pointer(&b.words[i])), n: n}
	}
	return Value{Kind: KindString}
}

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
	kinds, words := b.kinds[:(nv+7)&^7], b.words[:nv] // kinds padded (Reset)
	// present values; bytes of the long strings; whether those lie in str in field order
	// and fill it (then one copy moves them all). pres keeps each 64 values' presence
	// bits for the second loop.
	np, sb, inOrder := 0, 0, true
	b.pres = b.pres[:0]
	for c := 0; c < nv; c += 64 {
		set, long := presence(kinds, c)
		b.pres = append(b.pres, set, long)
		np += bits.OnesCount64(set)
		for ; long != 0; long &= long - 1 {
			w := words[c+bits.TrailingZeros64(long)]
			inOrder = inOrder && int(w>>32) == sb
			sb += int(w & 0xffffffff)
		}
	}
	inOrder = inOrder && sb == len(b.str)
	bm, wa := bitmapAt(nv), wordsAt(nv)
	sa := wa + 8*np
	if uint64(sa+sb) >= boxed { // string offsets are 32-bit words, and size's top bit is boxed
		panic("event: values of 2 GiB or more")
	}
	data, size := allocSlab(sa+sb, b.boxed)
	copy(data, kinds[:nv])
	if inOrder {
		copy(data[sa:], b.str)
	}
	at := wa // the next word
	for c := 0; c < nv; c += 64 {
		set, long := b.pres[c/32], b.pres[c/32+1]
		binary.LittleEndian.PutUint64(data[bm+c/8:], set) // little-endian: bit i is value i's
		first := at
		at = b.putWords(data, at, c, set)
		for ; long != 0; long &= long - 1 { // a long string's word: its bytes' offset in the slab
			j := bits.TrailingZeros64(long)
			w := words[c+j]
			off, n := int(w>>32), int(w&0xffffffff)
			if !inOrder {
				copy(data[sa:], b.str[off:off+n])
			}
			binary.LittleEndian.PutUint64(data[first+8*bits.OnesCount64(set&(1<<j-1)):], uint64(sa)<<32|uint64(n))
			sa += n
		}
	}
	ev.data, ev.size, ev.nv = unsafe.SliceData(data), size, uint32(nv)
}

// putWords writes the words of the values in set (bit j: value c+j), in order, into data
// from offset at on, and returns the offset after them. On a little-endian machine a
// word in memory is its slab bytes, so it copies a run of consecutive present values'
// words at a time (an event's values are mostly present, in a few runs); elsewhere a
// word at a time (putWordsEach, its reference in TestPutWordsMatchesEach).
func (b *Builder) putWords(data []byte, at, c int, set uint64) int {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return putWordsEach(data, at, b.words[c:], set)
	}
	for set != 0 {
		j := bits.TrailingZeros64(set)
		n := bits.TrailingZeros64(^(set >> j)) // the run's length: set>>j has zeros above it
		run := b.words[c+j : c+j+n]
		at += copy(data[at:], unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(run))), 8*n))
		set &^= (1<<n - 1) << j // n == 64: 1<<64 is 0, all ones
	}
	return at
}

// putWordsEach is putWords a word at a time, words[j] the word of value j of set.
func putWordsEach(data []byte, at int, words []uint64, set uint64) int {
	for ; set != 0; set &= set - 1 {
		binary.LittleEndian.PutUint64(data[at:], words[bits.TrailingZeros64(set)])
		at += 8
	}
	return at
}

// Absent returns a bit for each of the (up to) 64 values from c on that is missing or
// null (bit j: value c+j), reading 8 kind bytes at a time as presence does: a kind byte
// with its low bit cleared is zero exactly for those two kinds.
func (b *Builder) Absent(c int) uint64 {
	n := len(b.kinds)
	kinds := b.kinds[:(n+7)&^7] // padded (Reset)
	var set uint64
	ks := kinds[c:min(c+64, len(kinds))]
	for g := 0; g+8 <= len(ks); g += 8 { // g < 64: the shift needs no test of 64
		x := binary.LittleEndian.Uint64(ks[g:g+8]) &^ ones
		nz := ((x&lows7 + lows7) | x) & highs
		set |= ((nz >> 7) * gather >> 56) << (g & 63)
	}
	if n-c < 64 {
		return ^set & (1<<(n-c) - 1)
	}
	return ^set
}

// Bytes repeated in each byte of a word, for presence.
const (
	ones   = 0x0101010101010101
	lows7  = 0x7f7f7f7f7f7f7f7f
	highs  = 0x8080808080808080
	longs  = uint64(KindString) * 0x0101010101010101
	gather = 0x0102040810204080 // (m*gather)>>56: bit k is byte k's low bit, for m of 0/1 bytes
)

// presence returns, for the (up to) 64 values from c on, of the kind bytes kinds (padded
// with zero bytes to a multiple of 8), a bit for each present value and one for each long
// string (bit j: value c+j), reading 8 kind bytes a word at a time: (x&lows7+lows7)|x has
// a byte's high bit set exactly when the byte is not zero (no carry crosses a byte).
func presence(kinds []byte, c int) (set, long uint64) {
	ks := kinds[c:min(c+64, len(kinds))]
	for g := 0; g+8 <= len(ks); g += 8 { // g < 64: the shifts need no test of 64
		x := binary.LittleEndian.Uint64(ks[g : g+8])
		y := x ^ longs
		nz := ((x&lows7 + lows7) | x) & highs  // the bytes not zero: present values
		ls := ^((y&lows7 + lows7) | y) & highs // the bytes equal to KindString: long strings
		set |= ((nz >> 7) * gather >> 56) << (g & 63)
		long |= ((ls >> 7) * gather >> 56) << (g & 63)
	}
	return set, long
}
