package velocity

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// step is one event of a journal segment: added (or only read) and read.
type step struct {
	e   ev
	add bool
}

func applySteps(a *Agg, steps []step) []float64 {
	var out []float64
	for _, s := range steps {
		if s.add {
			a.Add(s.e.t, s.e.by, s.e.num, s.e.val)
		}
		v, ok := a.Value(s.e.t, s.e.by)
		if !ok {
			v = math.NaN()
		}
		out = append(out, v)
	}
	return out
}

// TestUndoJournalCycles uses the log as the engine does, over many rounds on the same
// aggregates and logs: segments of events appended one by one; checkpoints (AtStart) at
// any point; folds (Forget of the oldest segments); re-matches (Undo, then the segments
// replayed from the base, logged again, with a new segment inserted in time order);
// journals that end (the log reset and reused, for this aggregate or another one, or
// none). The reference is copy based: the base is a clone, and each state expected is the
// base's clone with the segments applied without a log. Every state compared is compared
// by encoding, index consistency and the values the same events read next.
func TestUndoJournalCycles(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for trial := range 150 {
		spec := Spec{Func: funcs[trial%len(funcs)], Window: []int64{50, 2_000, 30_000}[rng.IntN(3)], By: rng.IntN(2) == 0}
		c := &cycles{t: t, rng: rng, name: fmt.Sprintf("trial %d %v window %d by %t", trial, spec.Func, spec.Window, spec.By)}
		for _, e := range undoStream(rng, 3000, 1_000_000) {
			c.steps = append(c.steps, step{e: e, add: rng.IntN(4) != 0})
		}
		// Two aggregates of the same spec (two keys of a shard) share the spare logs.
		c.aggs = []*Agg{New(spec), New(spec)}
		c.jours = make([]*cycleJournal, len(c.aggs))
		for c.pos < len(c.steps)-200 {
			k := rng.IntN(len(c.aggs))
			a, j := c.aggs[k], c.jours[k]
			switch op := rng.IntN(20); {
			case j == nil:
				c.jours[k] = c.start(a)
			case op < 10:
				c.event(a, j)
			case op < 12: // a checkpoint exports the base
				j.u.AtStart(func() { c.check("AtStart", a, j.base) })
				c.check("after AtStart", a, j.expected())
			case op < 14 && len(j.segs) > 0:
				c.fold(a, j)
			case op < 18 && len(j.segs) > 0:
				c.rematch(a, j)
			default: // the journal ends: its log is kept for another
				a.Log(nil)
				j.u.Reset([]int{0, 4 << 10, 1 << 20}[rng.IntN(3)]) // bytes kept
				c.spare = append(c.spare, j.u)
				c.jours[k] = nil
				c.check("after the journal ends", a, j.expected())
			}
		}
		c.finish()
	}
}

// cycles is one trial of TestUndoJournalCycles.
type cycles struct {
	t     *testing.T
	rng   *rand.Rand
	name  string
	steps []step
	pos   int // the next step not used yet
	aggs  []*Agg
	jours []*cycleJournal // by aggregate: its journal (nil: none)
	spare []*Undo         // the logs of journals that ended
}

// cycleJournal is an aggregate's journal and its copy-based reference.
type cycleJournal struct {
	u    *Undo
	base *Agg // a clone of the state before the journal's first segment
	segs [][]step
	mark []int
}

func (j *cycleJournal) expected() *Agg {
	c := j.base.Clone()
	for _, s := range j.segs {
		applySteps(c, s)
	}
	return c
}

func (c *cycles) check(what string, a, want *Agg) {
	c.t.Helper()
	if !bytes.Equal(a.AppendBinary(nil), want.AppendBinary(nil)) || !consistent(a) {
		c.t.Fatalf("%s: %s: state differs from the copy's", c.name, what)
	}
}

// start starts a journal for a, on a spare log or a new one.
func (c *cycles) start(a *Agg) *cycleJournal {
	j := &cycleJournal{base: a.Clone()}
	if n := len(c.spare); n > 0 && c.rng.IntN(4) != 0 {
		j.u, c.spare = c.spare[n-1], c.spare[:n-1]
	} else {
		j.u = NewUndo()
	}
	a.Log(j.u)
	return j
}

// event logs the journal's next event (a few steps) as a segment.
func (c *cycles) event(a *Agg, j *cycleJournal) {
	n := 1 + c.rng.IntN(3)
	seg := c.steps[c.pos : c.pos+n]
	c.pos += n
	j.mark = append(j.mark, j.u.Mark())
	applySteps(a, seg)
	j.segs = append(j.segs, seg)
}

// fold forgets the journal's oldest segments, which the base takes.
func (c *cycles) fold(a *Agg, j *cycleJournal) {
	n := 1 + c.rng.IntN(len(j.segs))
	j.u.ForgetSegments(j.mark, n)
	for _, s := range j.segs[:n] {
		applySteps(j.base, s)
	}
	j.segs, j.mark = slices.Clone(j.segs[n:]), slices.Clone(j.mark[n:])
	c.check("after Forget", a, j.expected())
}

// rematch rolls the journal back, inserts an event in time order and replays it.
func (c *cycles) rematch(a *Agg, j *cycleJournal) {
	j.u.Undo()
	c.check("after Undo", a, j.base)
	i := c.rng.IntN(len(j.segs) + 1)
	lo := j.base.last
	if i > 0 {
		s := j.segs[i-1]
		lo = s[len(s)-1].e.t
	}
	hi := lo
	if i < len(j.segs) {
		hi = j.segs[i][0].e.t
	}
	if lo == math.MinInt64 {
		lo = hi
	}
	e := c.steps[c.pos].e
	e.t = lo + c.rng.Int64N(hi-lo+1)
	c.pos++
	j.segs = slices.Insert(slices.Clone(j.segs), i, []step{{e: e, add: true}})
	j.mark = j.mark[:0]
	for _, s := range j.segs {
		j.mark = append(j.mark, j.u.Mark())
		applySteps(a, s)
	}
	c.check("after a re-match", a, j.expected())
}

// finish applies the same events after, on every aggregate and its copy-based reference.
func (c *cycles) finish() {
	for k, a := range c.aggs {
		want := a.Clone()
		if j := c.jours[k]; j != nil {
			want = j.expected()
			if c.rng.IntN(2) == 0 {
				j.u.Undo()
				want = j.base
			}
		}
		rest := c.steps[c.pos:]
		if got, exp := applySteps(a, rest), applySteps(want, rest); !sameValues(got, exp) {
			c.t.Fatalf("%s: aggregate %d reads other values than its copy after the cycles", c.name, k)
		}
		c.check("at the end", a, want)
	}
}

// TestUndoForgetKeepsRest: Forget costs what it forgets, not what the log keeps: a key
// whose journal stays long (a busy key within the out-of-orderness) folds its oldest
// event at every step, so a Forget that moved the records kept to the front each time
// would cost the whole log per event (quadratic in the journal's length). Over a log
// folded one segment at a time, the records moved are at most those forgotten.
func TestUndoForgetKeepsRest(t *testing.T) {
	for _, f := range funcs {
		spec := Spec{Func: f, Window: 30_000, By: true}
		a := New(spec)
		u := NewUndo()
		a.Log(u)
		rng := rand.New(rand.NewPCG(5, 6))
		evs := undoStream(rng, 2000, 1_000_000)
		var marks []int
		for i := range evs {
			marks = append(marks, u.Mark())
			applySteps(a, []step{{e: evs[i], add: true}})
		}
		moved, forgot := 0, 0
		for len(marks) > 1 {
			m := marks[1]
			next := &u.kinds[u.head[nKinds]+m] // the first record kept
			u.Forget(m)
			forgot += m
			if &u.kinds[u.head[nKinds]] != next {
				moved += u.Len()
			}
			marks = marks[1:]
			for i := range marks {
				marks[i] -= m
			}
		}
		if moved > forgot {
			t.Fatalf("%v: folding %d records one segment at a time moved %d", f, forgot, moved)
		}
	}
}

// TestUndoManySegments: a log lives as long as its shard (reused by key after key), so
// its segment counter passes any 32-bit value: an aggregate attached when the counter
// comes back to its first values must still log its first change (its header's
// segment starts at 0 when attached).
func TestUndoManySegments(t *testing.T) {
	for _, seg := range []int{1<<32 - 2, 1<<32 - 1, 1 << 32} {
		u := NewUndo()
		for range 3 {
			a := New(Spec{Func: Count, Window: 1_000})
			a.Add(10, Key{}, 0, Key{})
			u.Reset(0)
			setSeg(u, seg) // as after that many events and folds
			a.Log(u)
			before := a.AppendBinary(nil)
			u.Mark()
			a.Add(20, Key{}, 0, Key{})
			u.Undo()
			if !bytes.Equal(a.AppendBinary(nil), before) {
				t.Fatalf("a log after %d segments: the roll-back misses an aggregate's first change", seg)
			}
			seg++
		}
	}
}

// TestUndoReadLogsNothing: a read that changes nothing (nothing leaves the window at its
// time) logs nothing: a key's journal events read every aggregate of every rule, and
// most of them only read, so logging the aggregate's header for each would cost a
// journal event ~200 bytes an aggregate for nothing.
func TestUndoReadLogsNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 200 {
		spec := Spec{Func: funcs[trial%len(funcs)], Window: 30_000, By: trial%2 == 0}
		a := New(spec)
		evs := undoStream(rng, 50, 1_000_000)
		applySteps(a, []step{{e: evs[0], add: true}})
		for _, e := range evs[1:] {
			if e.t-evs[0].t >= 30_000 {
				break
			}
			u := NewUndo()
			a.Log(u)
			u.Mark()
			if !a.Stale(e.t, e.by) {
				a.Value(e.t, e.by)
				if u.Len() != 0 {
					t.Fatalf("trial %d %v by %t: a read that changes nothing logged %d records", trial, spec.Func, spec.By, u.Len())
				}
			}
			a.Log(nil)
			applySteps(a, []step{{e: e, add: true}})
		}
	}
}
