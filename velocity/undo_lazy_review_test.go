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
		lazyAttachTrial(t, rng, trial)
	}
}

// lazyTrial is one trial of TestReviewUndoLazyAttachSharedLog: a key's aggregates,
// the event stream and how far it is used, and the spare logs.
type lazyTrial struct {
	t     *testing.T
	rng   *rand.Rand
	name  string
	n     int
	aggs  []*Agg
	evs   []ev
	pos   int
	spare []*Undo
}

// lazySeg is a journal's segment: the aggregate the event changes and its steps.
type lazySeg struct {
	agg   int // the aggregate the event changes
	steps []step
}

// lazyJournal is one journal of a trial: its log, the aggregates' base copies, the
// segments applied since and their marks.
type lazyJournal struct {
	*lazyTrial
	u     *Undo
	base  []*Agg
	segs  []lazySeg
	marks []int
}

func lazyAttachTrial(t *testing.T, rng *rand.Rand, trial int) {
	n := 2 + rng.IntN(3)
	specs := make([]Spec, n)
	aggs := make([]*Agg, n)
	for i := range specs {
		specs[i] = Spec{Func: funcs[rng.IntN(len(funcs))], Window: []int64{50, 2_000, 30_000}[rng.IntN(3)], By: rng.IntN(2) == 0}
		aggs[i] = New(specs[i])
	}
	tr := &lazyTrial{t: t, rng: rng, n: n, aggs: aggs}
	tr.name = fmt.Sprintf("trial %d %v", trial, specs)
	tr.evs = undoStream(rng, 2500, 1_000_000)
	for tr.pos < len(tr.evs)-300 {
		tr.journal()
	}
	// the same events after, against clones
	for i, a := range tr.aggs {
		c := a.Clone()
		rest := tr.evs[tr.pos:]
		var steps []step
		for _, e := range rest {
			steps = append(steps, step{e: e, add: true})
		}
		if got, exp := applySteps(a, steps), applySteps(c, steps); !sameValues(got, exp) {
			t.Fatalf("%s: aggregate %d reads other values than its clone at the end", tr.name, i)
		}
	}
}

func (tr *lazyTrial) check(what string, i int, a, want *Agg) {
	tr.t.Helper()
	if !bytes.Equal(a.AppendBinary(nil), want.AppendBinary(nil)) || !consistent(a) {
		tr.t.Fatalf("%s: %s: aggregate %d differs from its copy", tr.name, what, i)
	}
}

// journal runs one journal: rounds of events, checkpoints, folds and re-matches, then
// its end (detach, Reset, the log kept as a spare, perhaps an aggregate recycled).
func (tr *lazyTrial) journal() {
	t, rng := tr.t, tr.rng
	var u *Undo
	if k := len(tr.spare); k > 0 && rng.IntN(4) != 0 {
		u, tr.spare = tr.spare[k-1], tr.spare[:k-1]
	} else {
		u = NewUndo()
	}
	j := &lazyJournal{lazyTrial: tr, u: u, base: make([]*Agg, tr.n)}
	for i, a := range tr.aggs {
		j.base[i] = a.Clone()
	}
	for round := 0; round < 1+rng.IntN(30) && tr.pos < len(tr.evs)-300; round++ {
		j.round()
	}
	// the journal ends
	u.Detach()
	for i, a := range tr.aggs {
		if a.u != nil {
			t.Fatalf("%s: aggregate %d still attached after its journal's log detached", tr.name, i)
		}
	}
	u.Reset([]int{0, 4 << 10, 1 << 20}[rng.IntN(3)])
	tr.spare = append(tr.spare, u)
	if rng.IntN(5) == 0 { // one is freed and comes back recycled, as new
		i := rng.IntN(tr.n)
		if !tr.aggs[i].Recycle(1 << 20) { // (the spare comes back to the same place)
			t.Fatalf("%s: a detached aggregate refused", tr.name)
		}
	}
}

func (j *lazyJournal) expected() []*Agg {
	out := make([]*Agg, j.n)
	for i := range j.base {
		out[i] = j.base[i].Clone()
	}
	for _, s := range j.segs {
		applySteps(out[s.agg], s.steps)
	}
	return out
}

func (j *lazyJournal) apply(s lazySeg) {
	j.marks = append(j.marks, j.u.Mark())
	j.aggs[s.agg].Log(j.u) // before it changes
	applySteps(j.aggs[s.agg], s.steps)
}

// round is one round of a journal: an event, a checkpoint, a fold or a re-match, then
// the aggregates checked against the expected copies.
func (j *lazyJournal) round() {
	rng := j.rng
	switch op := rng.IntN(20); {
	case op < 11:
		k := 1 + rng.IntN(3)
		s := lazySeg{agg: rng.IntN(j.n), steps: nil}
		for _, e := range j.evs[j.pos : j.pos+k] {
			s.steps = append(s.steps, step{e: e, add: rng.IntN(4) != 0})
		}
		j.pos += k
		j.apply(s)
		j.segs = append(j.segs, s)
	case op < 13:
		j.u.AtStart(func() {
			for i, a := range j.aggs {
				j.check("AtStart", i, a, j.base[i])
			}
		})
	case op < 15 && len(j.segs) > 0:
		k := 1 + rng.IntN(len(j.segs))
		j.u.ForgetSegments(j.marks, k)
		for _, s := range j.segs[:k] {
			applySteps(j.base[s.agg], s.steps)
		}
		j.segs, j.marks = slices.Clone(j.segs[k:]), slices.Clone(j.marks[k:])
	case len(j.segs) > 0: // a re-match: roll back, insert an event, replay
		j.rematch()
	}
	want := j.expected()
	for i, a := range j.aggs {
		j.check("in the journal", i, a, want[i])
	}
}

// rematch rolls the log back, inserts an event among the segments and replays them.
func (j *lazyJournal) rematch() {
	rng := j.rng
	j.u.Undo()
	for i, a := range j.aggs {
		j.check("after Undo", i, a, j.base[i])
	}
	at := rng.IntN(len(j.segs) + 1)
	ag := rng.IntN(j.n)
	lo := int64(math.MinInt64)
	for _, a := range j.base {
		lo = max(lo, a.last)
	}
	if at > 0 {
		for _, s := range j.segs[:at] {
			lo = max(lo, s.steps[len(s.steps)-1].e.t)
		}
	}
	hi := lo
	if at < len(j.segs) {
		hi = j.segs[at].steps[0].e.t
	}
	if lo == math.MinInt64 {
		lo = hi
	}
	if hi < lo {
		hi = lo
	}
	e := j.evs[j.pos]
	j.pos++
	e.t = lo + rng.Int64N(hi-lo+1)
	j.segs = slices.Insert(slices.Clone(j.segs), at, lazySeg{agg: ag, steps: []step{{e: e, add: true}}})
	// (times do not go back for any aggregate: hi bounds the inserted one)
	j.marks = j.marks[:0]
	for _, s := range j.segs {
		j.apply(s)
	}
}
