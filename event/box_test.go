package event

import (
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// boxedEvent builds an event of n string values of length l each, with a key and header
// fields set, as a decoder would in reusable memory.
func boxedEvent(b *Builder, n, l int) Event {
	b.SetBoxed(true)
	b.Reset(n)
	for i := range n {
		b.SetString(i, strings.Repeat(string(rune('a'+i%26)), l))
	}
	var ev Event
	b.Build(&ev)
	ev.Key, ev.Seq, ev.Time, ev.Offset = ev.Value(0).AsString(), 7, 1234, 99
	return ev
}

// TestKeep: the first Keep of an event writes the header into its slab's box, the
// whole header as Clone copies it (every field: a field added to Event and not to Keep
// fails here), and allocates nothing; a second Keep of the same event (another key
// space) gets a copy of its own; a slab larger than the largest box, or an event not
// built by Build, is kept as Clone keeps it. The values read back the same through every
// copy, after the batch header is reused and the collector has run.
func TestKeep(t *testing.T) {
	var b Builder
	for _, c := range []struct{ n, l int }{{1, 0}, {1, 3}, {3, 20}, {20, 9}, {20, 40}, {40, 30}} {
		batch := boxedEvent(&b, c.n, c.l)
		size := int(batch.size &^ boxed)
		wantBox := size <= boxSizes[len(boxSizes)-1].n
		if got := batch.size&boxed != 0; got != wantBox {
			t.Fatalf("%v: slab of %d bytes boxed %v, want %v", c, size, got, wantBox)
		}
		clone := *batch.Clone()
		others := make([]Event, 11) // AllocsPerRun's warm-up and runs: each a first Keep
		for i := range others {
			others[i] = boxedEvent(&b, c.n, c.l)
		}
		j := 0
		allocs := testing.AllocsPerRun(10, func() { others[j].Keep(); j++ })
		if wantBox && allocs != 0 {
			t.Fatalf("%v: a first Keep allocated %v times", c, allocs)
		}
		k1 := batch.Keep()
		if *k1 != clone {
			t.Fatalf("%v: Keep's header %+v, Clone's %+v", c, *k1, clone)
		}
		inBox := uintptr(unsafe.Pointer(k1))+unsafe.Sizeof(Event{}) == uintptr(unsafe.Pointer(batch.data))
		if inBox != wantBox {
			t.Fatalf("%v: kept header in the box %v, want %v", c, inBox, wantBox)
		}
		k2 := batch.Keep()
		if k2 == k1 || *k2 != clone {
			t.Fatalf("%v: a second Keep shares the first's header or differs from Clone", c)
		}
		batch = Event{} // the batch memory is reused
		runtime.GC()
		for _, k := range []*Event{k1, k2} {
			for i := range c.n {
				if got, want := k.Value(i).AsString(), strings.Repeat(string(rune('a'+i%26)), c.l); got != want {
					t.Fatalf("%v: value %d reads %q after the collection, want %q", c, i, got, want)
				}
			}
		}
	}
	var plain Builder // boxes are off by default: the engine turns them on
	plain.Reset(2)
	plain.SetString(0, "x")
	var pe Event
	plain.Build(&pe)
	if pe.size&boxed != 0 {
		t.Fatal("a Builder boxes slabs before SetBoxed(true)")
	}
	if k := pe.Keep(); *k != pe || k.Value(0).AsString() != "x" {
		t.Fatal("an unboxed event's Keep is not a copy of it")
	}
	hand := Event{Key: "k"} // not built: no slab
	if k := hand.Keep(); *k != hand || k == &hand {
		t.Fatalf("a hand-made event's Keep is not a copy of it")
	}
}

// TestKeepConcurrent: key spaces' engines keep the same event at once; exactly one of
// them gets the box's header, the others copies, all equal (run with -race).
func TestKeepConcurrent(t *testing.T) {
	var b Builder
	for range 200 {
		ev := boxedEvent(&b, 5, 12)
		kept := make([]*Event, 4)
		var wg sync.WaitGroup
		for i := range kept {
			wg.Go(func() { kept[i] = ev.Keep() })
		}
		wg.Wait()
		inBox := 0
		for _, k := range kept {
			if *k != *kept[0] {
				t.Fatal("concurrent Keeps differ")
			}
			if uintptr(unsafe.Pointer(k))+unsafe.Sizeof(Event{}) == uintptr(unsafe.Pointer(ev.data)) {
				inBox++
			}
		}
		if inBox != 1 {
			t.Fatalf("%d of the concurrent Keeps took the box, want 1", inBox)
		}
	}
}

// TestBoxSizes: the box sizes increase, each slab is a multiple of 8 bytes and
// 8-byte aligned (the slab's words stay aligned).
func TestBoxSizes(t *testing.T) {
	for i, s := range boxSizes {
		if i > 0 && s.n <= boxSizes[i-1].n {
			t.Fatalf("box %d: %d bytes after %d", i, s.n, boxSizes[i-1].n)
		}
		if s.n%8 != 0 {
			t.Fatalf("box %d: a slab of %d bytes", i, s.n)
		}
		p := s.new()
		if uintptr(unsafe.Pointer(p))%8 != 0 {
			t.Fatalf("box %d: slab not 8-byte aligned", i)
		}
	}
}

// TestBoxSizeClasses: each box costs exactly its bytes, no rounding to a size class:
// the header and the slab, and past 512 bytes the runtime's 8-byte type header of an
// object with pointers (a box of 576 bytes was allocated 640, one of 1,024 bytes 1,152).
func TestBoxSizeClasses(t *testing.T) {
	const n = 4096
	keep := make([]*byte, n)
	for i, s := range boxSizes {
		want := uint64(unsafe.Sizeof(Event{})) + uint64(s.n)
		if want > 512 {
			want += 8
		}
		// the least of three measures: other allocations meanwhile (the runtime's, other
		// tests') only add, and once in a while added a byte an allocation
		got := uint64(math.MaxUint64)
		for range 3 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for j := range keep {
				keep[j] = s.new()
			}
			runtime.ReadMemStats(&after)
			got = min(got, (after.TotalAlloc-before.TotalAlloc)/n)
			clear(keep)
		}
		if got != want {
			t.Errorf("box %d (a slab of %d bytes): %d bytes an allocation, want %d", i, s.n, got, want)
		}
		clear(keep)
	}
}
