package event

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/cepd/cepd/internal/layout"
)

// TestSlabRoundTrip: values set on a Builder read back from the built event as they were,
// for events of up to 150 values (bitmaps of several words), with missing values, empty
// and long strings, and every kind; reading allocates nothing.
func TestSlabRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var b Builder
	for _, nv := range []int{0, 1, 7, 8, 9, 20, 63, 64, 65, 130, 150} {
		for range 50 {
			want := make([]Value, nv)
			for i := range want {
				switch r.IntN(8) {
				case 0, 1:
				case 2:
					want[i] = Null()
				case 3:
					want[i] = Bool(r.IntN(2) == 0)
				case 4:
					want[i] = Int(r.Int64() - math.MaxInt64/2)
				case 5:
					want[i] = Double(r.NormFloat64())
				case 6:
					want[i] = TimestampNanos(r.Int64())
				default:
					want[i] = String(strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(40)))
				}
			}
			b.Reset(nv)
			for i, v := range want {
				if v.Present() {
					b.Set(i, v)
				}
			}
			var ev Event
			b.Build(&ev)
			if ev.Len() != nv {
				t.Fatalf("nv %d: Len %d", nv, ev.Len())
			}
			for i, v := range want {
				if got := ev.Value(i); !got.Equal(v) {
					t.Fatalf("nv %d: value %d = %#v, want %#v", nv, i, got.Interface(), v.Interface())
				}
			}
			if v := ev.Value(nv); v.Present() {
				t.Fatalf("nv %d: value past the end is present", nv)
			}
			if nv > 0 {
				if n := testing.AllocsPerRun(10, func() {
					if v := ev.Value(r.IntN(nv)); v.Kind == KindString {
						_ = v.AsString()
					}
				}); n != 0 {
					t.Fatalf("Value allocates %v times", n)
				}
			}
		}
	}
}

// TestCloneSharesSlab: a clone is the header only, its values those of the original.
func TestCloneSharesSlab(t *testing.T) {
	ev := (&Event{Key: "k"}).SetValues([]Value{String("abc"), {}, Int(3)})
	c := ev.Clone()
	if c.data != ev.data || c.Value(0).AsString() != "abc" || c.Value(1).Present() || c.Value(2).AsInt() != 3 {
		t.Fatalf("clone %+v", c)
	}
}

// BenchmarkValue reads every value of a 20-field event (the fraud schema's size), present
// and missing alike.
func BenchmarkValue(b *testing.B) {
	var bd Builder
	bd.Reset(20)
	for i := range 20 {
		switch i % 4 {
		case 0:
			bd.SetString(i, "auth")
		case 1:
			bd.Set(i, Double(float64(i)))
		case 2:
			bd.Set(i, Int(int64(i)))
		}
	}
	var ev Event
	bd.Build(&ev)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range 20 {
			if ev.Value(i).Present() {
				n++
			}
		}
	}
	if n == 0 {
		b.Fatal("no value present")
	}
}

// TestSlabShortStringsInline: a string of up to 8 bytes is held in its word and takes no
// string bytes (the empty string included); a longer one is copied after the words, and
// every value reads back as set.
func TestSlabShortStringsInline(t *testing.T) {
	want := []Value{String("c0013016"), String("USD"), String(""), String("e0000000001"), Int(7), {}, String("au000000001x")}
	ev := (&Event{}).SetValues(want)
	np := len(want) - 1
	if got, size := len(ev.slab()), wordsAt(len(want))+8*np+len("e0000000001")+len("au000000001x"); got != size {
		t.Fatalf("slab of %d bytes, want %d: short strings should take only their word", got, size)
	}
	for i, v := range want {
		if got := ev.Value(i); !got.Equal(v) || got.Kind != v.Kind {
			t.Fatalf("value %d = %#v, want %#v", i, got.Interface(), v.Interface())
		}
	}
	if s := ev.Value(0).AsString(); s != "c0013016" || unsafe.StringData(s) != &ev.slab()[wordsAt(len(want))] {
		t.Fatalf("value 0 = %q, not read from its word", s)
	}
}

// TestEventHeaderLayout pins the retained header's layout: 64 bytes (a size class of its
// own; 80 while it kept the id, which ID now reads from the values), and every pointer in
// its first 24 bytes, which is all the collector scans of it.
func TestEventHeaderLayout(t *testing.T) {
	var ev Event
	if n := unsafe.Sizeof(ev); n != 64 {
		t.Fatalf("Event is %d bytes, want 64", n)
	}
	// every pointer word, of the fields there now or added later (layout.PointerEnd)
	if end := layout.PointerEnd(reflect.TypeOf(ev)); end != 24 {
		t.Fatalf("Event's pointers end at byte %d, want 24", end)
	}
}

// TestEventIDReadFromValues: the header keeps no id; ID reads the schema's id field as
// a key string, as the decoder made Key (a string as it is, another kind formatted), and
// is empty without an id field or its value. Copies (Clone) read the same.
func TestEventIDReadFromValues(t *testing.T) {
	s, err := NewSchema("ids", []Field{{Name: "id", Type: TypeAny, Optional: true}, {Name: "k", Type: TypeString}, {Name: "t", Type: TypeInt}}, "k", "t", "id")
	if err != nil {
		t.Fatal(err)
	}
	noID, err := NewSchema("noid", []Field{{Name: "id", Type: TypeAny}, {Name: "k", Type: TypeString}, {Name: "t", Type: TypeInt}}, "k", "t", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		schema *Schema
		id     Value
		want   string
	}{
		{s, String("e-0000000001"), "e-0000000001"},
		{s, String("short"), "short"},
		{s, Int(-42), "-42"},
		{s, Value{}, ""},
		{noID, String("e1"), ""},
		{nil, String("e1"), ""},
	} {
		ev := (&Event{Schema: c.schema}).SetValues([]Value{c.id, String("k"), Int(1)})
		if got, cl := ev.ID(), ev.Clone().ID(); got != c.want || cl != c.want {
			t.Fatalf("id %v under %v: ID %q, its copy %q, want %q", c.id.Interface(), c.schema != nil, got, cl, c.want)
		}
	}
}
