package nfa

import "testing"

// TestMemoTerms: a term slot holds its value for the current event only (Next forgets
// it, and a generation that wraps forgets every stamp), slots far apart grow the memo,
// and condition slots and term slots are apart.
func TestMemoTerms(t *testing.T) {
	m := NewMemo(2)
	if _, ok := m.Term(5); ok {
		t.Fatal("an unset term is known")
	}
	m.PutTerm(5, 2)
	m.Put(5, true)
	if v, ok := m.Term(5); !ok || v != 2 {
		t.Fatalf("term 5 = %d, %v; want 2", v, ok)
	}
	if v, ok := m.Get(5); !ok || !v {
		t.Fatal("condition slot 5 lost")
	}
	m.Next()
	if _, ok := m.Term(5); ok {
		t.Fatal("a term outlives its event")
	}
	m.PutTerm(0, 1)
	m.Put(1, false)
	m.Put(0, true)
	if v, ok := m.Get(1); !ok || v {
		t.Fatalf("condition slot 1 = %v, %v; want false, known", v, ok)
	}
	m.slots.gen = 1<<31 - 1 // the last generation a slot's word holds
	m.PutTerm(0, 1)
	m.Put(0, true)
	if v, ok := m.Get(0); !ok || !v {
		t.Fatal("condition slot 0 lost in the last generation")
	}
	m.Next() // wraps
	if _, ok := m.Term(0); ok {
		t.Fatal("a term survives the wrap of the generation")
	}
	if _, ok := m.Get(0); ok {
		t.Fatal("a condition slot survives the wrap of the generation")
	}
}
