package velocity

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddValueAgainstAddThenValue: AddValue (one pass) returns what Add then Value
// return and leaves the same state, logged or not: two aggregates take the same events,
// one by AddValue, the other by Add then Value (with reads of other groups, and events
// only read, in between); after every event their values are the same bits and their
// encodings equal, and with both attached to logs, rolling each back gives the state
// before the log.
func TestAddValueAgainstAddThenValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for trial := range 300 {
		spec := Spec{Func: funcs[trial%len(funcs)], Window: []int64{50, 2_000, 30_000}[rng.IntN(3)], By: rng.IntN(2) == 0}
		checkAddValue(t, rng, spec, fmt.Sprintf("trial %d", trial))
	}
}

// TestAddValueEdgeWindows: AddValue against Add then Value (as
// TestAddValueAgainstAddThenValue) for the windows at the edges: none (0, which an
// event leaves at once), 1 and 2 ms (events at the window's very edge, many at the same
// time), and windows no event leaves (2^62 ms, math.MaxInt64, where t-last cannot
// overflow into a leave).
func TestAddValueEdgeWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for trial := range 150 {
		w := []int64{0, 1, 2, 1 << 62, math.MaxInt64}[trial%5]
		spec := Spec{Func: funcs[(trial/5)%len(funcs)], Window: w, By: rng.IntN(2) == 0}
		checkAddValue(t, rng, spec, fmt.Sprintf("edge trial %d", trial))
	}
}

// checkAddValue feeds a random stream to two aggregates of spec, one by AddValue, the
// other by Add then Value, and fails unless they read and hold the same throughout.
func checkAddValue(t *testing.T, rng *rand.Rand, spec Spec, trial string) {
	t.Helper()
	fast, slow := New(spec), New(spec)
	evs := undoStream(rng, 300+rng.IntN(300), 1_000_000)
	logged := rng.IntN(2) == 0
	var uf, us *Undo
	var start []byte
	name := fmt.Sprintf("%s %v window %d by %t logged %t", trial, spec.Func, spec.Window, spec.By, logged)
	for i, e := range evs {
		if logged && i == len(evs)/3 {
			start = fast.AppendBinary(nil)
			uf, us = NewUndo(), NewUndo()
			fast.Log(uf)
			slow.Log(us)
		}
		if uf != nil && rng.IntN(3) == 0 {
			uf.Mark()
			us.Mark()
		}
		if rng.IntN(4) == 0 { // a read of another group, or an event only read
			k := Key{S: fmt.Sprint("g", rng.IntN(5))}
			fv, fok := fast.Value(e.t, k)
			sv, sok := slow.Value(e.t, k)
			if fok != sok || math.Float64bits(fv) != math.Float64bits(sv) {
				t.Fatalf("%s: event %d: reads differ before it: %v,%v and %v,%v", name, i, fv, fok, sv, sok)
			}
			continue
		}
		fv, fok := fast.AddValue(e.t, e.by, e.num, e.val)
		slow.Add(e.t, e.by, e.num, e.val)
		sv, sok := slow.Value(e.t, e.by)
		if fok != sok || math.Float64bits(fv) != math.Float64bits(sv) {
			t.Fatalf("%s: event %d (t=%d): AddValue %v,%v, Add then Value %v,%v", name, i, e.t, fv, fok, sv, sok)
		}
		if !bytes.Equal(fast.AppendBinary(nil), slow.AppendBinary(nil)) || !consistent(fast) {
			t.Fatalf("%s: event %d: the states differ", name, i)
		}
	}
	if uf != nil {
		uf.Undo()
		us.Undo()
		if !bytes.Equal(fast.AppendBinary(nil), start) || !bytes.Equal(slow.AppendBinary(nil), start) {
			t.Fatalf("%s: rolled back, not the state before the log", name)
		}
	}
}
