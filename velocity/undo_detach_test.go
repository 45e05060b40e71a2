package velocity

import "testing"

// TestUndoDetach: a log's Detach (and Reset) detaches the aggregates attached to it,
// and only those: one attached to another log since, or detached and attached again
// elsewhere, stays where it is. Attaching an aggregate to its own log again neither
// lists it twice nor makes its header be logged twice in a segment.
func TestUndoDetach(t *testing.T) {
	spec := Spec{Func: Sum, Window: 100}
	u, v := NewUndo(), NewUndo()
	a, b, c := New(spec), New(spec), New(spec)
	a.Log(u)
	b.Log(u)
	c.Log(u)
	c.Log(v) // moved on
	u.Mark()
	a.Add(1, Key{}, 1, Key{})
	a.Log(u) // again: nothing
	a.Add(2, Key{}, 1, Key{})
	if len(u.aggQs) != 1 || len(u.attached) != 3 {
		t.Fatalf("%d header records, %d attached: attaching again logged or listed twice", len(u.aggQs), len(u.attached))
	}
	u.Detach()
	if a.u != nil || b.u != nil || c.u != v || len(u.attached) != 0 {
		t.Fatal("Detach left one of its aggregates attached, or detached one attached elsewhere")
	}
	if !a.Recycle(1<<20) || c.Recycle(1<<20) {
		t.Fatal("a detached aggregate refused, or an attached one recycled")
	}
	b.Log(v)
	v.Reset(1 << 20)
	if b.u != nil || c.u != nil || !b.Recycle(1<<20) {
		t.Fatal("Reset left an aggregate attached")
	}
}
