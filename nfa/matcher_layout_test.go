package nfa

import (
	"testing"
	"unsafe"
)

// TestRunLayout: a run is 48 bytes (its latest event's time is its node's, run.prevTs),
// and the memory account charges that size for each.
func TestRunLayout(t *testing.T) {
	if n := unsafe.Sizeof(run{}); n != 48 || runBytes != 48 {
		t.Fatalf("a run is %d bytes, accounted %d: want 48", n, runBytes)
	}
	var r run // pointers first: the state, node, first event and version bytes end at 32
	for _, off := range []uintptr{unsafe.Offsetof(r.st), unsafe.Offsetof(r.node), unsafe.Offsetof(r.startEv), unsafe.Offsetof(r.ver)} {
		if off+8 > 32 {
			t.Fatalf("a run's pointer at byte %d: the collector would scan past 32", off)
		}
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
	ptrs := []uintptr{unsafe.Offsetof(n.ev), unsafe.Offsetof(n.more), unsafe.Offsetof(n.first) + unsafe.Offsetof(n.first.prev),
		unsafe.Offsetof(n.first) + unsafe.Offsetof(n.first.ver)} // a dewey's bytes pointer is its first word
	for _, off := range ptrs {
		if off+8 > 32 {
			t.Fatalf("a pointer at byte %d: the collector would scan past 32", off)
		}
	}
}
