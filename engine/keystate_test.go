package engine

import (
	"testing"
	"unsafe"

	"github.com/cepd/cepd/nfa"
)

// TestNewKeyStateSlots: a key state and its matcher slots share an allocation for up to
// 31 rules; every slot is there, nil, and writing them leaves the state alone.
func TestNewKeyStateSlots(t *testing.T) {
	m := new(nfa.Matcher)
	for n := 0; n <= 40; n++ {
		ks := newKeyState(n)
		if len(ks.m) != n || cap(ks.m) != n {
			t.Fatalf("n=%d: %d slots, capacity %d", n, len(ks.m), cap(ks.m))
		}
		ks.key, ks.newest = "k", 7
		for i := range ks.m {
			if ks.m[i] != nil {
				t.Fatalf("n=%d: slot %d not nil", n, i)
			}
			ks.m[i] = m
		}
		if ks.key != "k" || ks.newest != 7 {
			t.Fatalf("n=%d: writing the slots changed the state", n)
		}
		if allocs := testing.AllocsPerRun(10, func() { newKeyState(n) }); n <= 31 && allocs != 1 {
			t.Fatalf("n=%d: %v allocations, want 1", n, allocs)
		}
	}
}

// TestKeyStateSize: newKeyState's slot groups fill the size classes after a 232-byte key
// state; a state of another size still works but may waste a size class a key.
func TestKeyStateSize(t *testing.T) {
	if n := unsafe.Sizeof(keyState{}); n != 232 {
		t.Errorf("keyState is %d bytes: choose newKeyState's slot groups for it (and change this test)", n)
	}
}
