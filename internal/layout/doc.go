// Package layout tells where a type's pointer words end, for tests that pin the layout
// of structures the garbage collector scans: it scans an object up to its last pointer
// word, so that end is what each object costs the collector.
package layout
