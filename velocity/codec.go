package velocity

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// ErrCorrupt is returned (wrapped) by Decode for data it cannot read.
var ErrCorrupt = errors.New("velocity: corrupt aggregate state")

// AppendBinary appends the aggregate's state (not its Spec) to dst.
func (a *Agg) AppendBinary(dst []byte) []byte {
	dst = binary.AppendVarint(dst, a.last)
	if !a.spec.By {
		return a.w.appendBinary(dst, a.spec)
	}
	dst = binary.AppendUvarint(dst, uint64(a.ng))
	for g := a.glist.head; g >= 0; g = a.gs[g].next {
		dst = appendKey(dst, a.gs[g].key)
		dst = binary.AppendVarint(dst, a.gs[g].last)
		dst = a.gs[g].w.appendBinary(dst, a.spec)
	}
	return dst
}

func (w *window) appendBinary(dst []byte, s Spec) []byte {
	if s.Func == Distinct {
		dst = binary.AppendUvarint(dst, uint64(w.nd))
		for d := w.head; d >= 0; d = w.dn[d].next {
			dst = appendKey(dst, w.dn[d].key)
			dst = binary.AppendVarint(dst, w.dn[d].t)
		}
		return dst
	}
	l := w.live()
	dst = binary.AppendUvarint(dst, uint64(len(l)))
	for _, e := range l {
		dst = binary.AppendVarint(dst, e.t0)
		dst = binary.AppendUvarint(dst, uint64(e.t1-e.t0))
		dst = binary.AppendUvarint(dst, uint64(e.n))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(e.v))
	}
	// The running totals as they are, rounding included: a restored window then gives
	// the very values the uninterrupted one gives.
	dst = binary.AppendUvarint(dst, uint64(w.n))
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(w.sum))
}

// appendKey appends k as given to the package: a string held inline (Key.inline) is
// written as its bytes, with N zero.
func appendKey(dst []byte, k Key) []byte {
	dst = append(dst, k.Kind)
	if k.l != 0 {
		var b [maxInline]byte
		binary.LittleEndian.PutUint64(b[:], k.N)
		dst = binary.AppendUvarint(dst, uint64(k.l))
		dst = append(dst, b[:k.l]...)
		return binary.AppendUvarint(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(k.S)))
	dst = append(dst, k.S...)
	return binary.AppendUvarint(dst, k.N)
}

// Decode reads an aggregate written by AppendBinary for spec, returning it and the bytes
// after it.
func Decode(spec Spec, data []byte) (*Agg, []byte, error) {
	r := reader{b: data}
	a := New(spec)
	a.last = r.varint()
	if !spec.By {
		a.w = r.window(spec)
	} else {
		n := r.count(MaxGroups)
		for i := 0; i < n && r.err == nil; i++ {
			key := r.key()
			last := r.varint()
			w := r.window(spec)
			if _, dup := a.findGroup(key); dup {
				r.fail("group listed twice")
				break
			}
			gi := a.glist.alloc(&a.gs, key, nil)
			a.gs[gi].last, a.gs[gi].w = last, w
			a.indexGroup(key, gi)
			a.glist.pushBack(a.gs, gi, nil)
		}
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	return a, r.b, nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *reader) varint() int64   { return readVarint(r, binary.Varint, "bad varint") }
func (r *reader) uvarint() uint64 { return readVarint(r, binary.Uvarint, "bad uvarint") }

// readVarint reads one varint with decode (binary.Varint or binary.Uvarint); a bad one
// fails the reader with bad.
func readVarint[T int64 | uint64](r *reader, decode func([]byte) (T, int), bad string) T {
	v, n := decode(r.b)
	if n <= 0 {
		r.fail(bad)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length, at most limit and at most the bytes left.
func (r *reader) count(limit int) int {
	n := r.uvarint()
	if n > uint64(limit) || n > uint64(len(r.b)) {
		r.fail("count out of range")
		return 0
	}
	return int(n)
}

func (r *reader) key() Key {
	if len(r.b) == 0 {
		r.fail("short key")
		return Key{}
	}
	k := Key{Kind: r.b[0]}
	r.b = r.b[1:]
	n := r.count(math.MaxInt32)
	if r.err != nil {
		return Key{}
	}
	k.S = unsafe.String(unsafe.SliceData(r.b), n) // the data's bytes: copied below unless held inline
	r.b = r.b[n:]
	k.N = r.uvarint()
	k = k.inline()
	k.S = strings.Clone(k.S)
	return k
}

func (r *reader) window(s Spec) window {
	w := newWindow()
	if s.Func == Distinct {
		n := r.count(MaxDistinct)
		for i := 0; i < n && r.err == nil; i++ {
			key := r.key()
			t := r.varint()
			if _, dup := w.find(key); dup {
				r.fail("value listed twice")
				break
			}
			d := w.alloc(key, nil)
			w.dn[d].t = t
			w.index(key, d, nil)
			w.append(d, nil)
		}
		return w
	}
	n := r.count(ExactEntries + Resolution + 2)
	for i := 0; i < n && r.err == nil; i++ {
		var e entry
		e.t0 = r.varint()
		e.t1 = e.t0 + int64(r.uvarint())
		e.n = int64(r.uvarint())
		if len(r.b) < 8 {
			r.fail("short value")
			break
		}
		e.v = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
		r.b = r.b[8:]
		w.q = append(w.q, e)
	}
	w.n = int64(r.uvarint())
	if len(r.b) < 8 {
		r.fail("short sum")
		return w
	}
	w.sum = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return w
}
