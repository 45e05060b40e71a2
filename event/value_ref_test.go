package event

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
)

// valueChecked is Event.Value as it read the slab before it went unchecked: every offset
// through a bounds-checked slice. The reference for TestValueMatchesReference.
func valueChecked(e *Event, i int) Value {
	nv := int(e.nv)
	if uint(i) >= uint(nv) {
		return Value{}
	}
	d := e.slab()
	k := d[i]
	if k == byte(KindMissing) {
		return Value{}
	}
	var at int
	if nv <= 64 {
		bm := bitmapAt(nv)
		at = bm + 8 + 8*bits.OnesCount64(binary.LittleEndian.Uint64(d[bm:])&(1<<uint(i)-1))
	} else {
		at = wordsAt(nv) + 8*rank(d, nv, i)
	}
	if k&inlineString != 0 {
		if n := uint64(k &^ inlineString); n != 0 {
			return Value{Kind: KindString, p: &d[at], n: n}
		}
		return Value{Kind: KindString}
	}
	return wordValue(Kind(k), binary.LittleEndian.Uint64(d[at:]), d)
}

// TestValueMatchesReference: Event.Value, which reads the slab without bounds checks,
// returns for every index (and past the end) exactly what the checked reading returns,
// the same kind, bits and string pointer, for random events of up to 150 values with
// missing values, nulls, numbers, and empty, inline and long strings.
func TestValueMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var b Builder
	for _, nv := range []int{1, 2, 7, 8, 9, 20, 21, 63, 64, 65, 100, 150} {
		for range 200 {
			b.Reset(nv)
			for i := range nv {
				switch r.IntN(8) {
				case 0:
				case 1:
					b.Set(i, Null())
				case 2:
					b.Set(i, Int(r.Int64()))
				case 3:
					b.Set(i, Double(r.NormFloat64()))
				case 4:
					b.Set(i, Bool(r.IntN(2) == 0))
				default:
					b.SetString(i, strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(20)))
				}
			}
			var ev Event
			b.Build(&ev)
			for i := -1; i <= nv+1; i++ {
				got, want := ev.Value(i), valueChecked(&ev, i)
				if got != want {
					t.Fatalf("nv %d: Value(%d) = %+v, the checked reading %+v", nv, i, got, want)
				}
			}
		}
	}
}
