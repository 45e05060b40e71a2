package velocity

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// undoStream is a stream for the undo tests: many groups and values (so that groups and
// distinct values outgrow the scan and are evicted, and free slots are reused), bursts
// that bucket, and pauses that empty windows and groups.
func undoStream(rng *rand.Rand, n int, t int64) []ev {
	groups, vals := 1+rng.IntN(300), 1+rng.IntN(1100)
	var out []ev
	for range n {
		switch rng.IntN(20) {
		case 0:
			t += rng.Int64N(40_000) // a pause: windows and groups empty
		case 1, 2, 3, 4:
			t += rng.Int64N(500)
		default:
			t += rng.Int64N(3) // a burst: entries bucket
		}
		out = append(out, ev{t: t, by: Key{S: fmt.Sprint("g", rng.IntN(groups))},
			num: math.Round(rng.Float64()*1000) / 100, val: Key{N: uint64(rng.IntN(vals)), Kind: 1}})
	}
	return out
}

// apply adds each event (unless the coin says read only) and reads its group's value,
// returning the values read.
func apply(a *Agg, evs []ev, rng *rand.Rand) []float64 {
	var out []float64
	for _, e := range evs {
		if rng.IntN(4) != 0 {
			a.Add(e.t, e.by, e.num, e.val)
		}
		v, ok := a.Value(e.t, e.by)
		if !ok {
			v = math.NaN()
		}
		out = append(out, v)
	}
	return out
}

// consistent reports whether the aggregate's indexes agree with its lists: the maps of
// groups and of distinct values hold exactly the listed ones, and the counts match.
func consistent(a *Agg) bool {
	win := func(w *window) bool {
		n := int32(0)
		for d := w.head; d >= 0; d = w.dn[d].next {
			if w.vals != nil && w.vals[w.dn[d].key] != d {
				return false
			}
			n++
		}
		return n == w.nd && (w.vals == nil || len(w.vals) == int(n))
	}
	if !a.spec.By {
		return win(&a.w)
	}
	n := int32(0)
	for g := a.glist.head; g >= 0; g = a.gs[g].next {
		if a.groups != nil && a.groups[a.gs[g].key] != g || !win(&a.gs[g].w) {
			return false
		}
		n++
	}
	return n == a.ng && (a.groups == nil || len(a.groups) == int(n))
}

func sameValues(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// TestUndo: an aggregate attached to a log, changed over segments of events, is rolled
// back exactly: AtStart shows the state before the log and puts every change back;
// Forget then Undo gives the state before the segment forgotten up to; in each case the
// state's encoding equals a copy's taken at that point, and so do the values of the
// events that follow, read from both.
func TestUndo(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := range 400 {
		spec := Spec{Func: funcs[trial%len(funcs)], Window: []int64{50, 2_000, 30_000}[rng.IntN(3)], By: rng.IntN(2) == 0}
		a := New(spec)
		evs := undoStream(rng, 400+rng.IntN(400), 1_000_000)
		apply(a, evs[:rng.IntN(300)], rng)
		snaps := []*Agg{a.Clone()}
		u := NewUndo()
		a.Log(u)
		var marks []int
		next := len(evs) - 200
		for pos := 300; pos < next; {
			n := min(1+rng.IntN(12), next-pos)
			marks = append(marks, u.Mark())
			apply(a, evs[pos:pos+n], rng)
			snaps = append(snaps, a.Clone())
			pos += n
		}
		name := fmt.Sprintf("trial %d %v window %d by %t", trial, spec.Func, spec.Window, spec.By)
		// AtStart: the state before the log, then every change back.
		u.AtStart(func() {
			if !bytes.Equal(a.AppendBinary(nil), snaps[0].AppendBinary(nil)) || !consistent(a) {
				t.Fatalf("%s: AtStart does not show the state before the log", name)
			}
		})
		if !bytes.Equal(a.AppendBinary(nil), snaps[len(snaps)-1].AppendBinary(nil)) {
			t.Fatalf("%s: after AtStart the changes are not back", name)
		}
		// Forget the first j segments, roll back the rest: the state before segment j.
		j := rng.IntN(len(marks) + 1)
		if j < len(marks) {
			u.Forget(marks[j])
		} else {
			u.Forget(u.Len())
		}
		u.Undo()
		want := snaps[j]
		if !bytes.Equal(a.AppendBinary(nil), want.AppendBinary(nil)) || !consistent(a) {
			t.Fatalf("%s: after Forget(segment %d) and Undo, not the state before segment %d", name, j, j)
		}
		// The same events after, logged or not, read the same values.
		seed := rng.Uint64()
		rest := evs[next:]
		if rng.IntN(2) == 0 {
			u.Mark()
		} else {
			a.Log(nil)
		}
		got := apply(a, rest, rand.New(rand.NewPCG(seed, 1)))
		exp := apply(want, rest, rand.New(rand.NewPCG(seed, 1)))
		if !sameValues(got, exp) || !bytes.Equal(a.AppendBinary(nil), want.AppendBinary(nil)) {
			t.Fatalf("%s: the events after a roll-back read other values than from a copy", name)
		}
	}
}
