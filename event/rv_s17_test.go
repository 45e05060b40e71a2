package event

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// Review of s17-event (Build's run copies and long strings' offset words, presence and
// Absent over a slice of 64 kind bytes).

// TestBuildEdgesMatchReference: events of every size around the 64-value words, all
// values present (one run of 64 words), none present, only the first or the last, and
// every other one, their strings long and short alternately and set in reverse field
// order (a long string's bytes out of order in the builder's buffer), write the slab the
// reference builder writes; Absent marks what is absent, and the event reads back each
// value.
func TestBuildEdgesMatchReference(t *testing.T) {
	var b Builder
	var ref refBuilder
	for _, nv := range []int{1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 192, 200} {
		patterns := map[string]func(i int) bool{
			"all":   func(int) bool { return true },
			"none":  func(int) bool { return false },
			"first": func(i int) bool { return i == 0 },
			"last":  func(i int) bool { return i == nv-1 },
			"odd":   func(i int) bool { return i%2 == 1 },
			"runs":  func(i int) bool { return i%64 < 3 || i%64 > 60 || i%17 == 5 },
		}
		for name, present := range patterns {
			for _, reverse := range []bool{false, true} {
				for _, kind := range []string{"long", "short", "mixed", "nums"} {
					b.Reset(nv)
					ref.reset(nv)
					vals := make([]Value, nv)
					for k := range nv {
						i := k
						if reverse {
							i = nv - 1 - k
						}
						if !present(i) {
							continue
						}
						var v Value
						switch {
						case kind == "nums" || kind == "mixed" && i%3 == 2:
							v = Int(int64(i)*0x0101010101 + 7)
						case kind == "long" || kind == "mixed" && i%3 == 0:
							v = String(fmt.Sprintf("long string %d %s", i, strings.Repeat("z", i%5)))
						default:
							v = String(strings.Repeat(string(rune('a'+i%26)), i%9))
						}
						vals[i] = v
						ref.set(i, v)
						b.Set(i, v)
					}
					absent := make([]uint64, (nv+63)/64)
					for i := range nv {
						if vals[i].Kind == KindMissing {
							absent[i/64] |= 1 << (i % 64)
						}
					}
					for c := 0; c < nv; c += 64 {
						if got := b.Absent(c); got != absent[c/64] {
							t.Fatalf("nv %d %s %s: Absent(%d) = %x, want %x", nv, name, kind, c, got, absent[c/64])
						}
					}
					var ev Event
					b.Build(&ev)
					want := ref.build()
					if got := ev.slab(); !bytes.Equal(got, want) {
						t.Fatalf("nv %d %s %s reverse %v: slab\n%x\nwant\n%x", nv, name, kind, reverse, got, want)
					}
					for i := range nv {
						if got := ev.Value(i); !got.Equal(vals[i]) {
							t.Fatalf("nv %d %s %s: value %d = %v, want %v", nv, name, kind, i, got.Interface(), vals[i].Interface())
						}
					}
				}
			}
		}
	}
}
