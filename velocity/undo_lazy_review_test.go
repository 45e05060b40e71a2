package velocity

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestReviewUndoLazyAttachSharedLog uses one log for a key's several aggregates as the
// engine does since s18-velocity: the journal starts with none attached, an aggregate is
// attached just before an event changes it (only the ones the event changes), re-matches
// roll the log back and replay (the aggregates the replay changes are attached again,
// or already), checkpoints read the base (AtStart), folds forget segments, and a journal
// that ends detaches them all at once (Undo.Detach, then Reset) and leaves its log to
// the next journal. An aggregate may also be freed and recycled between journals and
// come back as new (as the engine's spares). The reference is copy based (per
// aggregate: the base is a clone and the expected state the clone with the journal's
// steps for it applied). Between journals nothing may be attached to any log.
func TestReviewUndoLazyAttachSharedLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	for trial := range 120 {
		n := 2 + rng.IntN(3)
		specs := make([]Spec, n)
		aggs := make([]*Agg, n)
		for i := range specs {
			specs[i] = Spec{Func: funcs[rng.IntN(len(funcs))], Window: []int64{50, 2_000, 30_000}[rng.IntN(3)], By: rng.IntN(2) == 0}
			aggs[i] = New(specs[i])
		}
		name := fmt.Sprintf("trial %d %v", trial, specs)
		evs := undoStream(rng, 2500, 1_000_000)
		pos := 0
		var spare []*Undo
		check := func(what string, i int, a, want *Agg) {
			t.Helper()
			if !bytes.Equal(a.AppendBinary(nil), want.AppendBinary(nil)) || !consistent(a) {
				t.Fatalf("%s: %s: aggregate %d differs from its copy", name, what, i)
			}
		}
		type seg struct {
			agg   int // the aggregate the event changes
			steps []step
		}
		for pos < len(evs)-300 {
			// a journal
			var u *Undo
			if k := len(spare); k > 0 && rng.IntN(4) != 0 {
				u, spare = spare[k-1], spare[:k-1]
			} else {
				u = NewUndo()
			}
			base := make([]*Agg, n)
			for i, a := range aggs {
				base[i] = a.Clone()
			}
			var segs []seg
			var marks []int
			expected := func() []*Agg {
				out := make([]*Agg, n)
				for i := range base {
					out[i] = base[i].Clone()
				}
				for _, s := range segs {
					applySteps(out[s.agg], s.steps)
				}
				return out
			}
			apply := func(s seg) {
				marks = append(marks, u.Mark())
				aggs[s.agg].Log(u) // before it changes
				applySteps(aggs[s.agg], s.steps)
			}
			for round := 0; round < 1+rng.IntN(30) && pos < len(evs)-300; round++ {
				switch op := rng.IntN(20); {
				case op < 11:
					k := 1 + rng.IntN(3)
					s := seg{agg: rng.IntN(n), steps: nil}
					for _, e := range evs[pos : pos+k] {
						s.steps = append(s.steps, step{e: e, add: rng.IntN(4) != 0})
					}
					pos += k
					apply(s)
					segs = append(segs, s)
				case op < 13:
					u.AtStart(func() {
						for i, a := range aggs {
							check("AtStart", i, a, base[i])
						}
					})
				case op < 15 && len(segs) > 0:
					k := 1 + rng.IntN(len(segs))
					u.ForgetSegments(marks, k)
					for _, s := range segs[:k] {
						applySteps(base[s.agg], s.steps)
					}
					segs, marks = slices.Clone(segs[k:]), slices.Clone(marks[k:])
				case len(segs) > 0: // a re-match: roll back, insert an event, replay
					u.Undo()
					for i, a := range aggs {
						check("after Undo", i, a, base[i])
					}
					at := rng.IntN(len(segs) + 1)
					ag := rng.IntN(n)
					lo := int64(math.MinInt64)
					for _, a := range base {
						lo = max(lo, a.last)
					}
					if at > 0 {
						for _, s := range segs[:at] {
							lo = max(lo, s.steps[len(s.steps)-1].e.t)
						}
					}
					hi := lo
					if at < len(segs) {
						hi = segs[at].steps[0].e.t
					}
					if lo == math.MinInt64 {
						lo = hi
					}
					if hi < lo {
						hi = lo
					}
					e := evs[pos]
					pos++
					e.t = lo + rng.Int64N(hi-lo+1)
					segs = slices.Insert(slices.Clone(segs), at, seg{agg: ag, steps: []step{{e: e, add: true}}})
					// (times do not go back for any aggregate: hi bounds the inserted one)
					marks = marks[:0]
					for _, s := range segs {
						apply(s)
					}
				}
				want := expected()
				for i, a := range aggs {
					check("in the journal", i, a, want[i])
				}
			}
			// the journal ends
			u.Detach()
			for i, a := range aggs {
				if a.u != nil {
					t.Fatalf("%s: aggregate %d still attached after its journal's log detached", name, i)
				}
			}
			u.Reset([]int{0, 4 << 10, 1 << 20}[rng.IntN(3)])
			spare = append(spare, u)
			if rng.IntN(5) == 0 { // one is freed and comes back recycled, as new
				i := rng.IntN(n)
				if !aggs[i].Recycle(1 << 20) { // (the spare comes back to the same place)
					t.Fatalf("%s: a detached aggregate refused", name)
				}
			}
		}
		// the same events after, against clones
		for i, a := range aggs {
			c := a.Clone()
			rest := evs[pos:]
			var steps []step
			for _, e := range rest {
				steps = append(steps, step{e: e, add: true})
			}
			if got, exp := applySteps(a, steps), applySteps(c, steps); !sameValues(got, exp) {
				t.Fatalf("%s: aggregate %d reads other values than its clone at the end", name, i)
			}
		}
	}
}
