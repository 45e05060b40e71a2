package nfa

import (
	"math/bits"

	"github.com/cepd/cepd/event"
)

// Guarded is implemented by conditions that can rule themselves out from the event alone.
//
// Contract: Guard returns a condition that reads only ctx.Event (never Matched), or nil.
// When the guard is false for an event, the condition itself is false for that event
// whatever the partial match, and evaluating it would have counted no error. A guard is
// evaluated once per event and NFA state (conditions share results through ctx.Memo), so
// the runs a false guard rules out are skipped without evaluating anything for each.
type Guarded interface {
	Guard() Condition
}

// Dispatcher is implemented by guards that pin a string field of the event: when the
// event's value of field (an index into the schema's fields) is a present string that is
// not among values, the guard is false. ok is false when the guard pins no field.
type Dispatcher interface {
	Dispatch() (field int, values []string, ok bool)
}

// StartDispatch tells which events can start a match without evaluating anything: when
// ok, CanStart is false for every event whose value of field is a present string not
// among values (the guards of the leaves the start state consults all pin that field).
func (p *Program) StartDispatch() (field int, values []string, ok bool) {
	return p.dispatchOf(p.start)
}

// dispatchOf tells which events leave every run waiting in s unchanged without
// evaluating anything: when ok, every guard s consults pins field (Dispatcher), and an
// event whose value there is a present string not among values makes them all false
// (ruledOut is true for s).
func (p *Program) dispatchOf(s *state) (field int, values []string, ok bool) {
	if p.opts.NoGuards || s == nil || !s.skippable {
		return 0, nil, false
	}
	field = -1
	for _, i := range s.guard {
		d, isD := p.leaves[i].guard.(Dispatcher)
		if !isD {
			return 0, nil, false
		}
		f, vs, dok := d.Dispatch()
		if !dok || field >= 0 && f != field {
			return 0, nil, false
		}
		field = f
		values = append(values, vs...)
	}
	if field < 0 {
		return 0, nil, false // nothing consulted: leave it to the guards
	}
	return field, values, true
}

// Event-only guards.
//
// For every state, Compile runs the matcher's own computeNext once with every leaf
// condition forced to false, and records the leaves it consulted (state.guard). When that
// probe leaves the run exactly as it was (same state, buffer entry and version: an
// irrelevant event under relaxed or any contiguity), the state is skippable: for an event
// whose guards rule out every consulted leaf, computeNext would consult the same leaves,
// get the same (false) values and take the same path, so the run is kept unchanged without
// visiting its edges. Options.NoGuards turns this off (the reference path).

// computeGuards fills state.guard and state.skippable.
func (p *Program) computeGuards() {
	if p.opts.NoGuards {
		return
	}
	m := &Matcher{prog: p}
	sc := NewScratch()
	sc.probe = true
	ev := &event.Event{}
	for _, s := range p.states {
		if s.typ == stFinal || s.typ == stStop {
			continue
		}
		cs := run{st: s, ver: deweyOf(1, 0)}
		if s.typ == stStart {
			cs = run{st: s, ver: deweyOne}
		}
		sc.probed = sc.probed[:0]
		out := m.computeNext(&cs, ev, sc, nil)
		if len(out) != 1 || !sameRun(&out[0], &cs) {
			continue
		}
		var guard []int
		for _, i := range sc.probed {
			if p.leaves[i].guard == nil {
				guard = nil
				break
			}
			guard = appendUnique(guard, i)
		}
		if guard == nil && len(sc.probed) > 0 {
			continue // a consulted leaf no guard can rule out
		}
		s.guard, s.skippable = guard, true
	}
}

func appendUnique(xs []int, x int) []int {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

func sameRun(a, b *run) bool {
	return a.st == b.st && a.node == b.node && a.startEv == b.startEv && a.ver == b.ver
}

// ruledOut reports whether the current event leaves every run waiting in s unchanged,
// by the guards of the leaves s consults. The caller has set sc.ctx.Event.
func (p *Program) ruledOut(s *state, sc *Scratch) bool {
	if !s.skippable {
		return false
	}
	for _, i := range s.guard {
		if p.leaves[i].guard.Eval(&sc.ctx) {
			return false
		}
	}
	return true
}

// waitValues is a state whose event-only guards all pin one string field: an event whose
// value there is a present string outside values rules out every run waiting in it.
type waitValues struct {
	state  int
	values []string
}

// waitDispatch lists the states runs can wait in (ids below 63, the bits of
// Matcher.waiting that stand for one state) whose guards all pin field (dispatchOf): for
// an event whose value of field is a present string not among a state's values,
// ruledOut is true for the state.
func (p *Program) waitDispatch(field int) []waitValues {
	var out []waitValues
	for _, s := range p.states {
		if s.id >= 63 || s.typ == stFinal || s.typ == stStop {
			continue
		}
		if f, values, ok := p.dispatchOf(s); ok && f == field {
			out = append(out, waitValues{s.id, values})
		}
	}
	return out
}

// Hint tells the next Process call, for a matcher of p and ev, which states' runs ev may
// change (StartIndex.Waits): the runs of the others are carried over without evaluating
// their guards. The next Process call takes the hint whatever its matcher (it uses it
// only for a matcher of p and ev), so no later call sees it: not one for another event
// held in the same memory (a replay's, a reused batch's).
func (sc *Scratch) Hint(p *Program, ev *event.Event, may uint64) {
	sc.hintProg, sc.hintEv, sc.hint = p, ev, may
}

// ruledOutStates returns the states runs of m wait in whose every run the event leaves
// unchanged, by the event-only guards (a subset of m.waiting, bit i for state i; bit 63,
// which stands for more, is never set): Process carries their runs over without visiting
// them, and returns at once when the set is all of m.waiting. The states the hint rules
// out (Hint, which this call takes) are in the set without evaluating anything; each
// other state's guards are evaluated once for the call (and memoised per event through
// sc.Memo), never per run.
func (m *Matcher) ruledOutStates(ev *event.Event, sc *Scratch) uint64 {
	p, waiting := m.prog, m.waiting&^(1<<63)
	may := ^uint64(0)
	if sc.hintProg == p && sc.hintEv == ev {
		may = sc.hint
	}
	sc.hintProg, sc.hintEv = nil, nil // this call's only
	if waiting == 0 || p.opts.NoGuards {
		return 0
	}
	ctx := &sc.ctx
	ctx.Event, ctx.Memo, ctx.m, ctx.sc = ev, sc.Memo, m, sc
	ctx.reset(nil)
	out := waiting &^ may // ruled out by the field they pin (Hint)
	for w := waiting & may; w != 0; w &= w - 1 {
		i := bits.TrailingZeros64(w)
		if p.ruledOut(p.states[i], sc) {
			out |= 1 << i
		}
	}
	return out
}
