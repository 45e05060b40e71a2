package velocity

import (
	"fmt"
	"testing"
)

// TestKeyInline checks that keys are equal exactly when their kept forms are, that a
// kept form is its own, and that a string of up to 8 bytes given with N zero is kept
// without a string.
func TestKeyInline(t *testing.T) {
	var keys []Key
	for _, s := range []string{"", "a", "a\x00", "\x00", "\x00a", "m0000001", "m00000001", "abcdefgh", "abcdefg", "\xff\xff"} {
		for _, n := range []uint64{0, 1, 0x61} {
			for _, kind := range []uint8{0, 4, 5} {
				keys = append(keys, Key{S: s, N: n, Kind: kind})
			}
		}
	}
	for _, a := range keys {
		ka := a.inline()
		if ka.inline() != ka {
			t.Errorf("%+v: kept form %+v is not its own", a, ka)
		}
		if len(a.S) >= 1 && len(a.S) <= maxInline && a.N == 0 && ka.S != "" {
			t.Errorf("%+v: kept with its string", a)
		}
		if ka.size() != len(a.S) {
			t.Errorf("%+v: size %d", a, ka.size())
		}
		for _, b := range keys {
			if (a == b) != (ka == b.inline()) {
				t.Errorf("%+v, %+v: equal %v, kept forms equal %v", a, b, a == b, ka == b.inline())
			}
		}
		// a checkpoint holds the key as given
		r := reader{b: appendKey(nil, ka)}
		if got := r.key(); got != ka || r.err != nil || len(r.b) != 0 {
			t.Errorf("%+v: read back as %+v (%v)", a, got, r.err)
		}
		if got, want := appendKey(nil, ka), appendKey(nil, a); string(got) != string(want) {
			t.Errorf("%+v: written as %x, given as %x", a, got, want)
		}
	}
}

// TestKeyInlineNoAlloc checks that a new value of up to 8 bytes allocates no string,
// nor a new group of up to 8 bytes (whose window's array is new), where a longer one
// does.
func TestKeyInlineNoAlloc(t *testing.T) {
	perEvent := func(spec Spec, format string) float64 {
		keys := make([]Key, 64)
		for i := range keys {
			keys[i] = Key{S: fmt.Sprintf(format, i), Kind: 4}
		}
		a := New(spec)
		for i := range 2 * MaxGroups { // arrays grown
			a.Add(int64(i), keys[i%len(keys)], 1, keys[i%len(keys)])
		}
		i := int64(2 * MaxGroups)
		return testing.AllocsPerRun(100, func() {
			k := keys[i%int64(len(keys))] // new again: the window is shorter than the cycle
			a.Add(i, k, 1, k)
			i++
		})
	}
	if n := perEvent(Spec{Window: 16, Func: Distinct}, "m%07d"); n != 0 {
		t.Errorf("distinct: %v allocations per event", n)
	}
	if n := perEvent(Spec{Window: 16, Func: Distinct}, "m%08d"); n != 1 {
		t.Errorf("distinct of 9 bytes: %v allocations per event, want 1 (its string)", n)
	}
	short, long := perEvent(Spec{Window: 16, Func: Count, By: true}, "m%07d"), perEvent(Spec{Window: 16, Func: Count, By: true}, "m%08d")
	if short != long-1 {
		t.Errorf("count by: %v allocations per event, %v with keys of 9 bytes: want one fewer", short, long)
	}
}
