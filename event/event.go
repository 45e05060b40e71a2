package event

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// Event is one decoded event. Its field values are indexed like Schema.Fields and read with
// Value; they live in one pointer-free byte slab (see slab.go) that is immutable once
// built, so copies of an Event share it and the garbage collector never scans it.
//
// An event a matcher or a journal keeps is a copy of this header (Keep: in its slab's
// box, box.go, or Clone), one for each retained event, so its layout is chosen for the heap: 64 bytes (a size class; the slab
// as a pointer and a 32-bit length; the id is read from the values, ID), its pointers
// first, so that the collector scans 24 bytes of it (TestEventHeaderLayout).
type Event struct {
	// Schema describes the values.
	Schema *Schema
	// data points to the values' slab (layout in slab.go) of size bytes.
	data *byte
	// Key is the value of the schema's key field.
	Key string
	// Seq is the arrival position assigned by whoever feeds the matcher; within one key
	// it strictly increases. It orders events the way Flink's EventId does.
	Seq uint64
	// Time is the event time in Unix milliseconds.
	Time int64
	// Offset is the event's position in its source partition (a Kafka offset, a line
	// number), set by whoever ingests it; -1 or 0 when unknown.
	Offset int64
	// size is the slab's length, with the bit boxed when the slab is in a box (box.go),
	// and nv the number of values.
	size, nv uint32
}

// ID returns the event's own identifier, used in alerts and alert ids: the value of the
// schema's id field as a key string (Value.KeyString, as the decoder makes Key), "" when
// the schema declares none or the event has no such value. It is read from the values,
// not kept in the header: the header is every retained event's own cost.
func (e *Event) ID() string {
	if e.Schema == nil {
		return ""
	}
	return e.Value(e.Schema.IDIndex()).KeyString() // Value: missing for an index < 0
}

// slab returns the values' slab.
func (e *Event) slab() []byte { return unsafe.Slice(e.data, e.size&^boxed) }

// Len returns the number of values the event holds (the schema's field count, or fewer
// for events built by hand).
func (e *Event) Len() int { return int(e.nv) }

// Value returns the i-th value (a missing Value when i is out of range). It does not
// allocate; a string value points into the event's slab, which it keeps alive.
//
// Every rule's conditions, guards and pins read values, several dozen an event, so the
// slab is read without bounds checks: Builder.Build is its only writer and lays it out
// as slab.go says (a present value's word, a long string's bytes, all inside it), so
// the offsets computed here are in range (TestValueMatchesReference compares with the
// checked reading).
func (e *Event) Value(i int) Value {
	nv := uint(e.nv)
	if uint(i) >= nv {
		return Value{}
	}
	d := unsafe.Pointer(e.data)
	k := *(*byte)(unsafe.Add(d, i))
	if k == byte(KindMissing) {
		return Value{}
	}
	var at uintptr
	if nv <= 64 { // one bitmap word, the words right after it: no loop, no division
		bm := uintptr(nv+7) &^ 7
		at = bm + 8 + 8*uintptr(bits.OnesCount64(word(d, bm)&(1<<uint(i)-1)))
	} else {
		at = e.wordAt(i)
	}
	if k&inlineString != 0 { // a short string: its bytes are its word
		if n := uint64(k &^ inlineString); n != 0 {
			return Value{Kind: KindString, p: (*byte)(unsafe.Add(d, at)), n: n}
		}
		return Value{Kind: KindString}
	}
	w := word(d, at)
	if Kind(k) != KindString {
		return Value{Kind: Kind(k), n: w}
	}
	if n := w & 0xffffffff; n != 0 { // a long string: its offset and length
		return Value{Kind: KindString, p: (*byte)(unsafe.Add(d, uintptr(w>>32))), n: n}
	}
	return Value{Kind: KindString}
}

// word reads the little-endian word at offset at of a slab d.
func word(d unsafe.Pointer, at uintptr) uint64 {
	return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(d, at))[:])
}

// wordAt returns where present value i's word is in a slab of more than 64 values.
func (e *Event) wordAt(i int) uintptr {
	nv := int(e.nv)
	return uintptr(wordsAt(nv) + 8*rank(e.slab(), nv, i))
}

// Get returns the value of the named field, or a missing Value.
func (e *Event) Get(name string) Value {
	if i, ok := e.Schema.Index(name); ok {
		return e.Value(i)
	}
	return Value{}
}

// Fields returns the present fields as a name → plain value map, in no particular order.
// It allocates: use it for output, never on the matching path.
func (e *Event) Fields() map[string]any {
	m := make(map[string]any, e.nv)
	for i := range e.Len() {
		if v := e.Value(i); v.Present() {
			m[e.Schema.Fields[i].Name] = v.Interface()
		}
	}
	return m
}

// Values returns a copy of the event's values (for tests and slow paths; it allocates).
func (e *Event) Values() []Value {
	vs := make([]Value, e.nv)
	for i := range vs {
		vs[i] = e.Value(i)
	}
	return vs
}

// SetValues replaces the event's values with vals (copied into a new slab) and returns e.
func (e *Event) SetValues(vals []Value) *Event {
	var b Builder
	b.Reset(len(vals))
	for i, v := range vals {
		b.Set(i, v)
	}
	b.Build(e)
	return e
}

// Clone returns a copy of e. The values' slab is immutable and shared, so a copy is the
// event's header only.
func (e *Event) Clone() *Event {
	c := *e
	return &c
}
