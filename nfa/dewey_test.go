package nfa

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// refCompatible is compatible over plain digits (the slice form dewey had).
func refCompatible(d, o []int32) bool {
	switch {
	case len(d) > len(o):
		return slices.Equal(d[:len(o)], o)
	case len(d) == len(o):
		last := len(d) - 1
		return slices.Equal(d[:last], o[:last]) && d[last] >= o[last]
	}
	return false
}

// TestDeweyDigits checks the string-held version against the same operations on plain
// digits, over random versions of 1 to 40 digits (small digits, so prefixes and equal
// digits are common; negative and large ones too, for the byte encoding).
func TestDeweyDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	digit := func() int32 {
		switch r.IntN(10) {
		case 0:
			return -r.Int32N(1 << 20)
		case 1:
			return r.Int32N(1<<31-1) + 1
		}
		return r.Int32N(3)
	}
	random := func() []int32 {
		ds := make([]int32, 1+r.IntN(40))
		for i := range ds {
			ds[i] = digit()
		}
		return ds
	}
	for range 20000 {
		a := random()
		b := slices.Clone(a)
		switch r.IntN(4) { // often a prefix or a neighbour of a
		case 0:
			b = b[:1+r.IntN(len(b))]
		case 1:
			b[len(b)-1] += int32(r.IntN(3)) - 1
		case 2:
			b = append(b, digit())
		default:
			b = random()
		}
		da, db := deweyOf(a...), deweyOf(b...)
		if da.n() != len(a) || !slices.Equal(da.digits(), a) {
			t.Fatalf("deweyOf(%v) holds %v", a, da.digits())
		}
		if got, want := da.compatible(db), refCompatible(a, b); got != want {
			t.Fatalf("%v compatible with %v: %v, want %v", a, b, got, want)
		}
		if got, want := da.compare(db), slices.Compare(a, b); got != want {
			t.Fatalf("%v compare %v: %d, want %d", a, b, got, want)
		}
		n := r.IntN(4)
		inc := slices.Clone(a)
		inc[len(inc)-1] += int32(n)
		if got := da.increase(n).digits(); !slices.Equal(got, inc) {
			t.Fatalf("%v increase %d: %v, want %v", a, n, got, inc)
		}
		if got, want := da.increaseAndAddStage(n).digits(), append(slices.Clone(inc), 0); !slices.Equal(got, want) {
			t.Fatalf("%v increaseAndAddStage %d: %v, want %v", a, n, got, want)
		}
		if got, want := da.addStage().digits(), append(slices.Clone(a), 0); !slices.Equal(got, want) {
			t.Fatalf("%v addStage: %v, want %v", a, got, want)
		}
		if !slices.Equal(da.digits(), a) {
			t.Fatalf("an operation changed %v to %v", a, da.digits())
		}
	}
	if deweyOne != deweyOf(1) || deweyOf(1, 0, 12).String() != "1.0.12" {
		t.Fatalf("deweyOne %v, 1.0.12 printed %s", deweyOne.digits(), deweyOf(1, 0, 12))
	}
}

// TestSmallDeweys checks the table of small versions against versions built digit by
// digit, across its bounds, and that the operations making them do not allocate.
func TestSmallDeweys(t *testing.T) {
	check := func(digits ...int32) {
		want := deweyOf(digits...)
		v, ok := smallDewey([]byte(want))
		inTable := len(digits) == 1 && uint32(digits[0]) < small1 ||
			len(digits) == 2 && uint32(digits[0]) < small2a && uint32(digits[1]) < small2b ||
			len(digits) == 3 && uint32(digits[0]) < small3a && uint32(digits[1]) < small3b && uint32(digits[2]) < small3b
		if ok != inTable || ok && v != want {
			t.Fatalf("%v: table gives %v (%v), want %v (%v)", digits, v.digits(), ok, want.digits(), inTable)
		}
		last := slices.Clone(digits)
		last[len(last)-1]++
		if got := want.increase(1); got != deweyOf(last...) {
			t.Fatalf("%v increase 1: %v", digits, got.digits())
		}
	}
	for x := int32(-1); x < small1+2; x++ {
		check(x)
	}
	for x := int32(-1); x < small2a+2; x++ {
		for y := int32(-1); y < small2b+2; y++ {
			check(x, y)
		}
	}
	for x := int32(-1); x < small3a+2; x++ {
		for y := int32(-1); y < small3b+2; y++ {
			for z := int32(-1); z < small3b+2; z++ {
				check(x, y, z)
			}
		}
	}
	check(1, 0, 0, 0)
	d := deweyOf(7)
	if n := testing.AllocsPerRun(100, func() { d = d.addStage()[:4].increase(1) }); n != 0 {
		t.Fatalf("small versions allocate: %v a call", n)
	}
	// A run two stages in (the reference workload's most common live version: x.0.0,
	// x.0.1, x.1.0) takes its version from the table too.
	d3 := deweyOf(5, 0)
	if n := testing.AllocsPerRun(100, func() { d = d3.increaseAndAddStage(1).increase(1) }); n != 0 || d != deweyOf(5, 1, 1) {
		t.Fatalf("three-digit versions allocate: %v a call (%v)", n, d)
	}
}

// TestRestoredDeweysFromTable: a version rebuilt from its digits (deweyOf: a snapshot's
// runs and edges after a restart) is the table's copy when the table holds it, so a
// restored key holds no more than the live one did, and allocates nothing for it.
func TestRestoredDeweysFromTable(t *testing.T) {
	inTable := func(d dewey) bool {
		p := unsafe.StringData(string(d))
		lo := unsafe.StringData(smallDeweys)
		return uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(lo)) &&
			uintptr(unsafe.Pointer(p)) < uintptr(unsafe.Pointer(lo))+uintptr(len(smallDeweys))
	}
	for _, digits := range [][]int32{{3}, {5, 2}, {9, 0, 1}, {small3a - 1, small3b - 1, small3b - 1}} {
		if d := deweyOf(digits...); !inTable(d) {
			t.Errorf("%v: not the table's copy", digits)
		}
	}
	if d := deweyOf(small3a, 0, 0); inTable(d) || d.n() != 3 || d.digit(0) != small3a {
		t.Errorf("%v: want its own string", d.digits())
	}
	var d dewey
	if n := testing.AllocsPerRun(100, func() { d = deweyOf(9, 0, 1) }); n != 0 {
		t.Errorf("deweyOf(9, 0, 1) allocates %v a call (%v)", n, d.digits())
	}
}
