package event

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// refBuilder is the Builder as it was before it kept values in their slab form (session
// 13): every string's bytes in str, a copy loop per value in Build. It is the reference
// TestBuildMatchesReference holds Builder's slabs to, byte for byte.
type refBuilder struct {
	kinds []Kind
	words []uint64
	str   []byte
}

func (b *refBuilder) reset(n int) {
	b.kinds, b.words, b.str = make([]Kind, n), make([]uint64, n), nil
}

func (b *refBuilder) set(i int, v Value) {
	if v.Kind == KindString {
		s := v.AsString()
		b.kinds[i], b.words[i] = KindString, uint64(len(b.str))<<32|uint64(len(s))
		b.str = append(b.str, s...)
		return
	}
	b.kinds[i], b.words[i] = v.Kind, v.n
}

func (b *refBuilder) clear(i int) { b.kinds[i], b.words[i] = KindMissing, 0 }

// build is Builder.Build as it was: the slab's bytes.
func (b *refBuilder) build() []byte {
	nv := len(b.kinds)
	if nv == 0 {
		return nil
	}
	np, sb := 0, 0
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
	data := make([]byte, sa+sb)
	r := 0
	for i, k := range b.kinds {
		if k == KindMissing {
			continue
		}
		data[bm+i/8] |= 1 << (i % 8)
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
	return data
}

// TestBuildMatchesReference: Builder writes the very slab the reference builder writes,
// byte for byte, for random sequences of sets, repeated sets, clears and strings of
// every length around the inline bound, committed by SetString and by CommitString
// (with bytes before them in the buffer, as a decoder leaves them), in field order and
// out of it, by one builder for events of many sizes in turn; the builder's own Value
// reads back what was set.
func TestBuildMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var b Builder
	var ref refBuilder
	sizes := []int{1, 2, 7, 8, 9, 20, 63, 64, 65, 130}
	for range len(sizes) {
		for range 400 {
			nv := sizes[r.IntN(len(sizes))] // one builder, larger and smaller events in turn
			b.Reset(nv)
			ref.reset(nv)
			inOrder := r.IntN(2) == 0 // fields set in order once each, as card events are
			ops := nv
			if !inOrder {
				ops = r.IntN(2 * nv)
			}
			for op := range ops {
				i := op
				if !inOrder {
					i = r.IntN(nv)
				}
				var v Value
				switch r.IntN(8) {
				case 0:
					if !inOrder {
						b.Clear(i)
						ref.clear(i)
						continue
					}
				case 1:
					v = Null()
				case 2:
					v = Int(r.Int64())
				case 3:
					v = Double(r.NormFloat64())
				case 4:
					v = Bool(r.IntN(2) == 0)
				default:
					v = String(strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(20)))
				}
				if v.Kind == KindMissing {
					continue
				}
				ref.set(i, v)
				if v.Kind == KindString && r.IntN(2) == 0 { // as the decoder commits
					buf := b.StringBuffer()
					off := len(buf)
					b.CommitString(i, append(buf, v.AsString()...), off)
				} else {
					b.Set(i, v)
				}
				if got := b.Value(i); !got.Equal(v) {
					t.Fatalf("nv %d: builder value %d = %#v, want %#v", nv, i, got.Interface(), v.Interface())
				}
			}
			var ev Event
			b.Build(&ev)
			want := ref.build()
			if got := ev.slab(); !bytes.Equal(got, want) {
				t.Fatalf("nv %d (in order %v): slab\n%x\nwant\n%x", nv, inOrder, got, want)
			}
		}
	}
}

// TestPutWordsMatchesEach: putWords, a run of present values at a time, writes what
// putWordsEach, a word at a time, writes, for sets of every density (runs at either end,
// all 64 present, none) over words of random bits.
func TestPutWordsMatchesEach(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var b Builder
	b.Reset(130)
	for i := range b.words {
		b.words[i] = r.Uint64()
	}
	for k := range 4000 {
		var set uint64
		switch k % 4 {
		case 0:
			set = r.Uint64()
		case 1:
			set = r.Uint64() | r.Uint64() | r.Uint64() // long runs
		case 2:
			set = ^uint64(0) << r.IntN(64) >> r.IntN(64)
		default:
			set = []uint64{0, ^uint64(0), 1, 1 << 63}[r.IntN(4)]
		}
		c := r.IntN(2) * 64
		n := bits.OnesCount64(set)
		got, want := make([]byte, 8+8*n+8), make([]byte, 8+8*n+8)
		if at := b.putWords(got, 8, c, set); at != 8+8*n {
			t.Fatalf("set %x: putWords ends at %d, want %d", set, at, 8+8*n)
		}
		putWordsEach(want, 8, b.words[c:], set)
		if !bytes.Equal(got, want) {
			t.Fatalf("set %x from %d: putWords\n%x\nwant\n%x", set, c, got, want)
		}
	}
}
