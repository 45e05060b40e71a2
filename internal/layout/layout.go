package layout

import "reflect"

// PointerEnd returns the offset just past the last word of a value of type t that may
// hold a pointer the collector follows (0 when none does): a pointer, map, channel,
// function or unsafe pointer is one such word; a string or slice its first word; an
// interface both words; arrays and structs their elements' and fields'.
func PointerEnd(t reflect.Type) uintptr {
	word := reflect.TypeFor[uintptr]().Size()
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.String, reflect.Slice:
		return word
	case reflect.Interface:
		return 2 * word
	case reflect.Array:
		if e := PointerEnd(t.Elem()); e > 0 && t.Len() > 0 {
			return uintptr(t.Len()-1)*t.Elem().Size() + e
		}
	case reflect.Struct:
		end := uintptr(0)
		for i := range t.NumField() {
			f := t.Field(i)
			if e := PointerEnd(f.Type); e > 0 {
				end = max(end, f.Offset+e)
			}
		}
		return end
	}
	return 0
}
