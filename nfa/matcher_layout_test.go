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
}
