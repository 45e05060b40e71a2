package velocity

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// rvWorld is a few keys' aggregates of one spec, driven as the engine drives them:
// journals (a log, a segment an event, folds forgetting the oldest segments, re-matches
// rolling back, checkpoints reading at the start), expiry freeing an aggregate into a
// spare pool (pool: Recycle) or dropping it.
type rvWorld struct {
	pool  bool
	spare []*Agg
	aggs  []*Agg
	logs  []*Undo
	marks [][]int
}

func (w *rvWorld) take(spec Spec) *Agg {
	if n := len(w.spare); w.pool && n > 0 {
		a := w.spare[n-1]
		w.spare = w.spare[:n-1]
		return a
	}
	return New(spec)
}

// TestReviewRecyclePoolAgainstNew drives the same operations on aggregates of a few
// keys in two worlds, one freeing expired aggregates into a spare pool (Recycle, the
// group slots' window room kept) and taking from it, the other always making new ones:
// events a segment each, journals starting (Log) and ending (detach, Reset), folds
// (ForgetSegments), re-matches (Undo), checkpoints at the log's start (AtStart), reads
// moving the windows, Expire under a log. Every value and encoding must agree.
func TestReviewRecyclePoolAgainstNew(t *testing.T) {
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 99))
		f := funcs[rng.IntN(len(funcs))]
		spec := Spec{Func: f, Window: 1000, By: rng.IntN(3) > 0}
		keep := []int{256, 1 << 20}[rng.IntN(2)]
		const nk = 3
		ws := []*rvWorld{{pool: true}, {pool: false}}
		for _, w := range ws {
			w.aggs, w.logs, w.marks = make([]*Agg, nk), make([]*Undo, nk), make([][]int, nk)
		}
		tm := int64(1_000_000)
		for step := range 400 {
			k := rng.IntN(nk)
			op := rng.IntN(12)
			var outs [2]string
			if op == 9 {
				tm += rng.Int64N(1500)
			}
			for wi, w := range ws {
				r := rand.New(rand.NewPCG(seed, uint64(step)))
				outs[wi] = w.do(r, op, k, tm, spec, keep) + w.dump()
			}
			tm += rng.Int64N(200)
			if outs[0] != outs[1] {
				t.Fatalf("seed %d step %d op %d %v: pooled\n%s\nnew\n%s", seed, step, op, spec, outs[0], outs[1])
			}
		}
	}
}

// do is one step's operation op on key k's aggregate in the world w, drawing from r; it
// returns what the operation read.
func (w *rvWorld) do(r *rand.Rand, op, k int, tm int64, spec Spec, keep int) string {
	var out string
	switch {
	case op < 5: // an event
		out = w.event(r, k, tm, spec)
	case op == 5: // a journal starts or ends
		if w.logs[k] == nil {
			w.logs[k] = NewUndo()
			w.marks[k] = nil
			if w.aggs[k] != nil {
				w.aggs[k].Log(w.logs[k])
			}
		} else {
			if w.aggs[k] != nil {
				w.aggs[k].Log(nil)
			}
			w.logs[k].Reset(64 << 10)
			w.logs[k] = nil
		}
	case op == 6: // a fold
		if u := w.logs[k]; u != nil && len(w.marks[k]) > 0 {
			n := r.IntN(len(w.marks[k]) + 1)
			u.ForgetSegments(w.marks[k], n)
			w.marks[k] = w.marks[k][min(n, len(w.marks[k])):]
		}
	case op == 7: // a re-match: back to the base (the agg created in it stays: the engine's slot log would drop it; here only its contents)
		if u := w.logs[k]; u != nil {
			u.Undo()
			w.marks[k] = nil
		}
	case op == 8: // a checkpoint of the base
		if u := w.logs[k]; u != nil && w.aggs[k] != nil {
			u.AtStart(func() { out = string(w.aggs[k].AppendBinary(nil)) })
		}
	case op == 10: // a read at a later time (moves the windows)
		if a := w.aggs[k]; a != nil {
			tt := tm + r.Int64N(1200)
			v, ok := a.Value(tt, Key{S: fmt.Sprint("m", r.IntN(5)), Kind: 2})
			out += fmt.Sprint("val", v, ok)
		}
	case op == 11: // an Expire under the log
		if a := w.aggs[k]; a != nil && w.logs[k] != nil {
			if w.logs[k] != nil {
				w.marks[k] = append(w.marks[k], w.logs[k].Mark())
			}
			out += fmt.Sprint(a.Expire(tm + r.Int64N(2000)))
		}
	case op == 9: // expiry, unlogged
		if a := w.aggs[k]; a != nil && w.logs[k] == nil && a.Expire(tm) {
			w.aggs[k] = nil
			if w.pool && a.Recycle(keep) {
				w.spare = append(w.spare, a)
			}
		}
	}
	return out
}

// event adds one to three values to key k's aggregate (taken first if it has none) as a
// segment of its journal if one is open; it returns what the adds returned.
func (w *rvWorld) event(r *rand.Rand, k int, tm int64, spec Spec) string {
	var out string
	if w.aggs[k] == nil {
		w.aggs[k] = w.take(spec)
		if w.logs[k] != nil {
			w.aggs[k].Log(w.logs[k])
		}
	}
	if w.logs[k] != nil {
		w.marks[k] = append(w.marks[k], w.logs[k].Mark())
	}
	for range 1 + r.IntN(3) {
		tt := tm + r.Int64N(300)
		by, num, val := Key{S: fmt.Sprint("m", r.IntN(5)), Kind: 2}, float64(r.IntN(100)), Key{S: fmt.Sprint("v", r.IntN(4)), Kind: 1}
		v, ok := w.aggs[k].AddValue(tt, by, num, val)
		out += fmt.Sprint(v, ok, ";")
	}
	return out
}

// dump is the encoding of every aggregate of the world ("-" for none).
func (w *rvWorld) dump() string {
	var out string
	for i, a := range w.aggs {
		if a != nil {
			out += fmt.Sprintf("|%d:%x", i, a.AppendBinary(nil))
		} else {
			out += fmt.Sprintf("|%d:-", i)
		}
	}
	return out
}
