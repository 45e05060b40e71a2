package layout

import (
	"reflect"
	"testing"
	"unsafe"
)

// TestPointerEnd: where the pointer words end, for each kind of field and nesting.
func TestPointerEnd(t *testing.T) {
	type inner struct { // fields exported: read by reflect only
		N int64
		P *int
		M uint64
	}
	for _, c := range []struct {
		v    any
		want uintptr
	}{
		{int64(0), 0},
		{[4]int32{}, 0},
		{struct{ a, b int64 }{}, 0},
		{struct {
			p *int
			n int64
		}{}, 8},
		{struct {
			n int64
			s string
		}{}, 16}, // a string's bytes pointer is its first word
		{struct {
			n int64
			s []byte
			m int64
		}{}, 16},
		{struct {
			n int64
			i any
		}{}, 24},
		{struct {
			a [3]*int
			n int64
		}{}, 24},
		{struct {
			a [0]*int
			n int64
		}{}, 0},
		{struct {
			n  int64
			in inner // its pointer at 8 within it
			k  int64
		}{}, 24},
		{struct {
			n int64
			m map[string]int
			f func()
			c chan int
			u unsafe.Pointer
			z int32
		}{}, 40},
	} {
		if got := PointerEnd(reflect.TypeOf(c.v)); got != c.want {
			t.Errorf("%T: pointers end at %d, want %d", c.v, got, c.want)
		}
	}
}
