package nfa

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/cepd/cepd/internal/layout"
)

// TestRunLayout: a run is 40 bytes (its first event's time is its first event's,
// run.startTs, and its latest event's its node's, run.prevTs), and the memory account
// charges that size for each.
func TestRunLayout(t *testing.T) {
	if n := unsafe.Sizeof(run{}); n != 40 || runBytes != 40 {
		t.Fatalf("a run is %d bytes, accounted %d: want 40", n, runBytes)
	}
	// pointers first: the state, node, first event and version bytes end at 32 (and any
	// pointer added later must too: layout.PointerEnd)
	if end := layout.PointerEnd(reflect.TypeFor[run]()); end != 32 {
		t.Fatalf("a run's pointers end at byte %d: want 32", end)
	}
}

// TestNodeLayout: a shared-buffer node is 48 bytes, and its pointers (its event, the
// out-of-line edges, the first edge's predecessor and version bytes) end at byte 32:
// the collector scans no more of it.
func TestNodeLayout(t *testing.T) {
	var n node
	if s := unsafe.Sizeof(n); s != 48 || nodeBytes != 48 {
		t.Fatalf("a node is %d bytes, accounted %d: want 48", s, nodeBytes)
	}
	if end := layout.PointerEnd(reflect.TypeOf(n)); end != 32 { // a dewey's bytes pointer is its first word
		t.Fatalf("a node's pointers end at byte %d: the collector would scan past 32", end)
	}
}

// TestMatcherLayout: a matcher is 80 bytes (a size class; its held complete matches are
// out of line, held), and the memory account charges that size for each.
func TestMatcherLayout(t *testing.T) {
	if n := unsafe.Sizeof(Matcher{}); n != 80 || mBytes != 80 {
		t.Fatalf("a matcher is %d bytes, accounted %d: want 80", n, mBytes)
	}
}
