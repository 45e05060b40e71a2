package velocity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestRecycleAsNew fills aggregates of every function, with and without by, past the
// scan limit (maps built) and sometimes past the kept bytes, recycles them and runs
// another stream through each beside a new aggregate: every value, EmptyAt and encoding
// must be the new one's. A recycled aggregate keeps no string of its old values or
// groups, and one attached to a log is refused (its records may restore it).
func TestRecycleAsNew(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const window = 1000
	for iter := range 40 {
		spread := []int{2, smallIndex + 3, 3 * smallIndex}[iter%3]
		keep := []int{0, 256, 1 << 20}[iter%3]
		gen := func(n int) []ev {
			var evs []ev
			tm := int64(1_000_000 + iter*10_000_000)
			for range n {
				tm += rng.Int64N(window/8 + 1)
				evs = append(evs, ev{t: tm, by: Key{S: fmt.Sprint("m", rng.IntN(spread)), Kind: 2},
					num: float64(rng.IntN(100)), val: Key{S: fmt.Sprint("v", rng.IntN(spread)), Kind: 1}})
			}
			return evs
		}
		for _, f := range funcs {
			for _, grouped := range []bool{false, true} {
				spec := Spec{Func: f, Window: window, By: grouped}
				old := New(spec)
				for _, e := range gen(20 + rng.IntN(60)) {
					old.Add(e.t, e.by, e.num, e.val)
				}
				if rng.IntN(2) == 0 { // as expiry leaves it, or straight from use
					old.Expire(old.EmptyAt())
				}
				if !old.Recycle(keep) {
					t.Fatalf("iter %d %v by=%v: an unlogged aggregate refused", iter, f, grouped)
				}
				checkNoStrings(t, old)
				poisonRoom(old)
				fresh := New(spec)
				for i, e := range gen(1 + rng.IntN(40)) {
					old.Add(e.t, e.by, e.num, e.val)
					fresh.Add(e.t, e.by, e.num, e.val)
					g, gok := old.Value(e.t, e.by)
					w, wok := fresh.Value(e.t, e.by)
					if g != w || gok != wok || old.EmptyAt() != fresh.EmptyAt() {
						t.Fatalf("iter %d %v by=%v event %d: recycled reads %v %v (empty at %d), new %v %v (%d)",
							iter, f, grouped, i, g, gok, old.EmptyAt(), w, wok, fresh.EmptyAt())
					}
				}
				if g, w := string(old.AppendBinary(nil)), string(fresh.AppendBinary(nil)); g != w {
					t.Fatalf("iter %d %v by=%v: recycled encodes differently from new", iter, f, grouped)
				}
			}
		}
	}
	a := New(Spec{Func: Sum, Window: window})
	a.Log(NewUndo())
	a.Add(1, Key{}, 1, Key{})
	if a.Recycle(1 << 20) {
		t.Fatal("an aggregate attached to a log was recycled")
	}
	if v, _ := a.Value(1, Key{}); v != 1 || a.EmptyAt() != 1+window {
		t.Fatal("a refused recycle changed the aggregate")
	}
}

// checkNoStrings fails when a recycled aggregate's kept arrays still hold a string (or a
// group's window) of what it held, or it reads as other than empty.
func checkNoStrings(t *testing.T, a *Agg) {
	t.Helper()
	if a.EmptyAt() != math.MinInt64 || a.w.nd != 0 || a.w.n != 0 || a.w.vals != nil {
		t.Fatal("recycled aggregate not empty")
	}
	for _, d := range a.w.dn[:cap(a.w.dn)] {
		if d.key != (Key{}) {
			t.Fatalf("recycled aggregate keeps value %+v", d.key)
		}
	}
	if a.byHdr == nil {
		return
	}
	if a.ng != 0 || a.groups != nil {
		t.Fatal("recycled aggregate keeps groups")
	}
	for _, g := range a.gs[:cap(a.gs)] {
		checkSlotEmpty(t, a.spec, g)
	}
}

// checkSlotEmpty fails unless g, a group slot past a recycled aggregate's groups, holds
// nothing but an empty window's arrays (kept for the group that takes the slot next),
// their values' room zeroed (the entries' room is not: an entry holds no pointer).
func checkSlotEmpty(t *testing.T, s Spec, g group) {
	t.Helper()
	if g.key != (Key{}) || g.last != 0 || g.w.vals != nil || len(g.w.q) != 0 || len(g.w.dn) != 0 || g.w.n != 0 || g.w.nd != 0 {
		t.Fatalf("%v: a kept group slot holds %+v", s, g)
	}
	for _, d := range g.w.dn[:cap(g.w.dn)] {
		if d != (dnode{}) {
			t.Fatalf("%v: a kept group slot's window keeps value %+v", s, d)
		}
	}
}

// TestRecycleFieldByField compares a recycled aggregate with New's field by field: every
// field of the aggregate, its window and its groups' header is New's, but for the arrays
// kept (empty, their room zeroed past what a window may show: no value or group is
// left). It covers aggregates that were attached to a log and detached (the log moved
// their queues), and a recycled one attached to a log, changed and rolled back: it
// reads and encodes as a new one rolled back alike.
func TestRecycleFieldByField(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const window = 1000
	for iter := range 30 {
		for _, f := range funcs {
			for _, grouped := range []bool{false, true} {
				spec := Spec{Func: f, Window: window, By: grouped}
				old := New(spec)
				if iter%2 == 1 { // logged for a while, then detached (as a journal ends)
					u := NewUndo()
					old.Log(u)
					u.Mark()
				}
				tm := int64(1_000_000)
				for range 1 + rng.IntN(30) {
					tm += rng.Int64N(window / 4)
					old.Add(tm, Key{S: fmt.Sprint("m", rng.IntN(3)), Kind: 2}, float64(rng.IntN(100)), Key{S: fmt.Sprint("v", rng.IntN(4)), Kind: 1})
				}
				old.Log(nil)
				if !old.Recycle(256) {
					t.Fatalf("%v by=%v: a detached aggregate refused", f, grouped)
				}
				checkAsNew(t, old, New(spec))
				// attached again: changes logged and rolled back leave it as new
				u := NewUndo()
				old.Log(u)
				u.Mark()
				old.Add(tm, Key{S: "x", Kind: 2}, 7, Key{S: "y", Kind: 1})
				old.Value(tm+window/2, Key{S: "x", Kind: 2})
				u.Undo()
				old.Log(nil)
				if old.EmptyAt() != math.MinInt64 || string(old.AppendBinary(nil)) != string(New(spec).AppendBinary(nil)) {
					t.Fatalf("%v by=%v: a recycled aggregate's rolled back changes left something", f, grouped)
				}
			}
		}
	}
}

// checkAsNew fails unless recycled a is New's n but for the room of its kept arrays.
func checkAsNew(t *testing.T, a, n *Agg) {
	t.Helper()
	if a.spec != n.spec || a.last != n.last || a.u != n.u || a.useg != n.useg || (a.byHdr == nil) != (n.byHdr == nil) {
		t.Fatalf("%v: header %+v, new %+v", a.spec, *a, *n)
	}
	checkWindowAsNew(t, a.spec, a.w, n.w)
	if a.byHdr == nil {
		return
	}
	if a.groups != nil || a.ng != n.ng || a.glist != n.glist || len(a.gs) != 0 {
		t.Fatalf("%v: groups' header %+v, new %+v", a.spec, *a.byHdr, *n.byHdr)
	}
	for _, g := range a.gs[:cap(a.gs)] {
		checkSlotEmpty(t, a.spec, g)
	}
}

func checkWindowAsNew(t *testing.T, s Spec, a, n window) {
	t.Helper()
	if len(a.q) != 0 || len(a.dn) != 0 || a.vals != nil {
		t.Fatalf("%v: window arrays %d entries, %d values, map %v", s, len(a.q), len(a.dn), a.vals != nil)
	}
	for _, d := range a.dn[:cap(a.dn)] {
		if d != (dnode{}) {
			t.Fatalf("%v: a kept value slot holds %+v", s, d)
		}
	}
	if a.qh != n.qh || a.n != n.n || a.sum != n.sum || a.nd != n.nd || a.head != n.head || a.tail != n.tail || a.free != n.free {
		t.Fatalf("%v: window %+v, new %+v", s, a, n)
	}
}

// TestRecycledGroupRoomAgainstNew runs one stream through a recycled aggregate by a
// field, whose group slots keep their windows' arrays (Recycle, groupList.alloc), and
// through a new one, both logged a segment at a time as the engine logs them, some
// segments rolled back (Undo) and some read at the log's start (AtStart): every value,
// EmptyAt and encoding must be the new one's.
func TestRecycledGroupRoomAgainstNew(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const window = 1000
	for iter := range 60 {
		for _, f := range funcs {
			spec := Spec{Func: f, Window: window, By: true}
			old := New(spec)
			tm := int64(1_000_000)
			for range 5 + rng.IntN(40) { // groups with windows of a few entries and values
				tm += rng.Int64N(window / 8)
				old.Add(tm, Key{S: fmt.Sprint("m", rng.IntN(12)), Kind: 2}, float64(rng.IntN(100)), Key{S: fmt.Sprint("v", rng.IntN(5)), Kind: 1})
			}
			if !old.Recycle(1 << 20) {
				t.Fatalf("%v: an unlogged aggregate refused", f)
			}
			poisonRoom(old)
			fresh := New(spec)
			uo, uf := NewUndo(), NewUndo()
			old.Log(uo)
			fresh.Log(uf)
			tm += 10 * window
			for seg := range 12 {
				uo.Mark()
				uf.Mark()
				for range 1 + rng.IntN(4) {
					tm += rng.Int64N(window / 3)
					by, num, val := Key{S: fmt.Sprint("m", rng.IntN(6)), Kind: 2}, float64(rng.IntN(100)), Key{S: fmt.Sprint("v", rng.IntN(4)), Kind: 1}
					g, gok := old.AddValue(tm, by, num, val)
					w, wok := fresh.AddValue(tm, by, num, val)
					if g != w || gok != wok || old.EmptyAt() != fresh.EmptyAt() {
						t.Fatalf("iter %d %v segment %d: recycled reads %v %v, new %v %v", iter, f, seg, g, gok, w, wok)
					}
				}
				switch rng.IntN(4) {
				case 0: // the journal re-matched: back to the base
					uo.Undo()
					uf.Undo()
				case 1: // a checkpoint reads the base
					var ob, fb string
					uo.AtStart(func() { ob = string(old.AppendBinary(nil)) })
					uf.AtStart(func() { fb = string(fresh.AppendBinary(nil)) })
					if ob != fb {
						t.Fatalf("iter %d %v segment %d: the recycled base encodes differently from the new one's", iter, f, seg)
					}
				}
				if g, w := string(old.AppendBinary(nil)), string(fresh.AppendBinary(nil)); g != w {
					t.Fatalf("iter %d %v segment %d: recycled encodes differently from new", iter, f, seg)
				}
			}
		}
	}
}

// poisonRoom fills the entries' room a recycled aggregate keeps (its window's and its
// group slots', past their lengths: Recycle does not clear it) with entries no window
// could hold, so that a read past a window's length shows in its values.
func poisonRoom(a *Agg) {
	bad := entry{t0: math.MaxInt64 / 2, t1: math.MaxInt64 / 2, n: 1 << 40, v: math.Inf(-1)}
	fill := func(w *window) {
		q := w.q[len(w.q):cap(w.q)]
		for i := range q {
			q[i] = bad
		}
	}
	fill(&a.w)
	if a.byHdr != nil {
		for i := range a.gs[:cap(a.gs)] {
			fill(&a.gs[:cap(a.gs)][i].w)
		}
	}
}
