package event

import (
	"sync/atomic"
	"unsafe"
)

// An event the engine keeps (a matcher's partial match holds it, or it waits in a key's
// journal for the watermark) needs its header copied out of the reusable batch memory it
// was decoded into: the slab is immutable and shared, the header is not. Kept events are
// most of the engine's heap objects, and a collection visits every object (most of them
// a cache miss), so a slab is allocated with room for one kept header in front of it:
//
//	[the kept header: an Event, zero until a Keep takes it][the slab]
//
// The first Keep of the event writes its header there and allocates nothing; the object
// is one, not two. Only the header's pointers are scanned: the slab's bytes lie past the
// type's last pointer. Slabs larger than the largest box, and slabs not made by
// Builder.Build, are allocated alone and Keep copies the header as Clone does.

// boxed marks, in Event.size, a slab that follows a kept header in a box; the slab's length is the
// rest of the bits (Build refuses slabs of 2 GiB or more).
const boxed = 1 << 31

// box is a kept header with a slab after it, as many bytes as the array type A has. The
// header's size word is zero until a Keep takes it, which sets it first (atomically: the
// box's slab may be shared by several engines' events, in key spaces) and then the rest.
type box[A any] struct {
	//lint:ignore U1000 written and read through the slab's address (Event.Keep)
	kept Event
	slab A
}

// newBox allocates a box of A and returns its slab (as many bytes as A has).
func newBox[A any]() *byte {
	b := new(box[A])
	return (*byte)(unsafe.Pointer(&b.slab))
}

// boxSizes are the slab sizes of the boxes, each making a box exactly one of the
// runtime's size classes (64 bytes of header and the slab; past 512 bytes, the 8-byte
// type header the runtime puts before a larger object with pointers too): no byte is
// lost to rounding that a bare slab of the same class would not lose too
// (TestBoxSizeClasses). allocSlab picks the smallest that holds a slab.
var boxSizes = [...]struct {
	n   int
	new func() *byte
}{
	{64, newBox[[64]byte]}, {96, newBox[[96]byte]}, {128, newBox[[128]byte]},
	{160, newBox[[160]byte]}, {192, newBox[[192]byte]}, {224, newBox[[224]byte]},
	{256, newBox[[256]byte]}, {288, newBox[[288]byte]}, {320, newBox[[320]byte]},
	{352, newBox[[352]byte]}, {384, newBox[[384]byte]}, {416, newBox[[416]byte]},
	{448, newBox[[448]byte]}, // 512 bytes: the largest box without a type header
	{504, newBox[[504]byte]}, {568, newBox[[568]byte]}, {632, newBox[[632]byte]},
	{696, newBox[[696]byte]}, {824, newBox[[824]byte]}, {952, newBox[[952]byte]},
}

// allocSlab returns n zeroed bytes for a slab and the size word Event keeps for it: in a
// box when asked and one is large enough, else alone. A box costs an event that is not
// kept 64 bytes and a slower allocation (an object with pointers): Builder.SetBoxed says
// whether most events are kept.
func allocSlab(n int, inBox bool) ([]byte, uint32) {
	if !inBox || n > maxBoxed {
		return make([]byte, n), uint32(n)
	}
	return unsafe.Slice(boxSizes[boxFor[(n+7)/8]].new(), n), uint32(n) | boxed
}

// maxBoxed is the largest slab a box holds: the last of boxSizes (boxFor checks).
const maxBoxed = 952

// boxFor is, for each slab size in words (8 bytes; the box sizes are whole words), the
// first box of boxSizes that holds it: computed once, so that Build does not search.
var boxFor = func() (t [maxBoxed/8 + 1]uint8) {
	if boxSizes[len(boxSizes)-1].n != maxBoxed {
		panic("event: maxBoxed is not the largest box")
	}
	b := 0
	for w := range t {
		for boxSizes[b].n < 8*w {
			b++
		}
		t[w] = uint8(b)
	}
	return t
}()

// Keep returns a copy of e's header that the caller may keep after the memory e is in
// is reused: as Clone, but the first Keep of an event whose slab has a box writes the
// copy there instead of allocating one. Later Keeps of the same event (another key
// space's engine, a second copy) allocate as Clone does. Safe for concurrent use: the
// box's header is taken once.
func (e *Event) Keep() *Event {
	if e.size&boxed != 0 {
		k := (*Event)(unsafe.Add(unsafe.Pointer(e.data), -int(unsafe.Sizeof(Event{}))))
		// size first: a boxed size is never zero. Then every other field (TestKeep
		// compares the whole header with Clone's).
		if atomic.CompareAndSwapUint32(&k.size, 0, e.size) {
			k.Schema, k.data, k.Key, k.Seq, k.Time, k.Offset, k.nv = e.Schema, e.data, e.Key, e.Seq, e.Time, e.Offset, e.nv
			return k
		}
	}
	return e.Clone()
}
