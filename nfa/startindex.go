package nfa

import (
	"encoding/binary"
	"fmt"

	"github.com/cepd/cepd/event"
)

// StartIndex tells, for an event, which of a rule set's programs might start a match
// with it, so that a key without a matcher for a rule asks CanStart only of those: an
// event no rule can start touches no rule at all. Two levels, both precomputed from the
// start states' event-only guards:
//
//  1. by one string field of the event (usually its type: StartDispatch), a map lookup
//     rules out every program whose first step wants another value;
//  2. by the pins of each remaining program's start guards (StartPins): each distinct pin
//     (e.card_present == false, e.channel == 'atm', e.amount >= 450.0…) is tested at most
//     once per event, shared by every program that has it, and a program is ruled out
//     when each of its start guards has a failing pin.
//
// Both only rule out: a program they keep may still have CanStart false. Programs
// compiled with Options.NoGuards have neither (the reference path asks CanStart of every
// rule).
//
// The first level's lookup also tells a program's live matcher which of its waiting
// states the event cannot change (Waits: states whose event-only guards all pin that
// field to other values), for Process (Scratch.Hint).
//
// A StartIndex is immutable but for what it keeps of the last Candidates call (the
// event, its first-level row and mask, its pins' verdicts): one goroutine uses it (each
// shard builds its own).
type StartIndex struct {
	field  int            // the first level's field, -1 when none
	always []bool         // programs the first level cannot rule out
	by     map[string]int // field value → index into lists and masks
	// few is by's keys by index when there are at most maxFew of them (nil otherwise):
	// a scan of so few short strings costs a fraction of a map look-up (lookup).
	few    []string
	lists  [][]bool  // programs that might start, per indexed field value
	starts [][][]int // per program, its start guards' pins (ids into pins); nil: none
	pins   []Pin
	// decided[i] lists the pins on the first level's field with their verdict for an
	// event whose value there is the i-th indexed one (should the pin apply): Candidates
	// records them, so that MayStart never tests them (a rule's e.type == 'auth').
	decided [][]pinVerdict

	// masks[i] is lists[i] (with always) as a bit set (bit pi: program pi), and
	// alwaysMask always's, for at most 64 programs (masks nil for more); all has a bit
	// for every program.
	masks      []uint64
	alwaysMask uint64
	all        uint64
	mask       uint64 // the last Candidates call's verdict (Mask)

	// waits holds, for each first-level value index i (and len(lists) for a present
	// string the level does not index), a row of one bit set a program (waits[i*len(progs)+pi]):
	// the states of program pi whose waiting runs an event with that value may change.
	// A state's bit is clear when its event-only guards all pin the first level's field
	// to other values (waitDispatch): its runs are ruled out (Program.ruledOut) without
	// evaluating them. nil when the index has no first level. row is the last
	// Candidates event's row (-1: its field decides nothing, or no event yet: every bit
	// set).
	waits []uint64
	row   int
	progs []*Program // the programs indexed, for Hint

	ev *event.Event // the event of the last Candidates call
	// schema is the last event's schema and applies[i] whether pin i decides for it
	// (Pin.Applies), worked out when the schema changes, not for every event.
	schema   *event.Schema
	applies  []bool
	verdicts eventBits // whether pin i fails for the current event (unknown: untested)

	// guards is starts flattened, the hot path's copy (indexGuards): program pi's start
	// guards are guards[gat[pi]:gat[pi+1]], each a count n then n pin ids, one array for
	// the whole rule set instead of three levels of slices; an empty span is a program
	// without pins.
	guards []int32
	gat    []int32
}

// NewStartIndex indexes progs (a rule set's programs, in rule order).
func NewStartIndex(progs []*Program) *StartIndex {
	x := &StartIndex{field: -1, row: -1, progs: progs, always: make([]bool, len(progs)), by: map[string]int{}, starts: make([][][]int, len(progs))}
	x.indexField(progs)
	ids := map[string]int{}
	for pi, p := range progs {
		guards, ok := p.StartPins()
		if !ok {
			continue
		}
		for _, g := range guards {
			var gids []int
			for _, pin := range g {
				k := pinKey(pin)
				id, seen := ids[k]
				if !seen {
					id = len(x.pins)
					ids[k] = id
					x.pins = append(x.pins, pin)
				}
				gids = append(gids, id)
			}
			x.starts[pi] = append(x.starts[pi], gids)
		}
	}
	x.packPins()
	x.indexGuards()
	x.indexWaits(progs)
	x.indexMasks(len(progs))
	x.indexFew()
	x.indexDecided()
	return x
}

// pinVerdict is whether pin id fails (Pin.failsOf) for one value of its field.
type pinVerdict struct {
	id    int
	fails bool
}

// indexDecided works out, for each value of the first level, the verdict of every pin on
// its field.
func (x *StartIndex) indexDecided() {
	if x.field < 0 {
		return
	}
	x.decided = make([][]pinVerdict, len(x.lists))
	n := 0
	for v, i := range x.by {
		for id := range x.pins {
			if p := &x.pins[id]; p.Field == x.field {
				x.decided[i] = append(x.decided[i], pinVerdict{id, p.failsOf(event.String(v))})
				n++
			}
		}
	}
	all := make([]pinVerdict, 0, n) // one array for every value's verdicts
	for i, d := range x.decided {
		all = append(all, d...)
		x.decided[i] = all[len(all)-len(d) : len(all) : len(all)]
	}
}

// maxFew is the most first-level values looked up by a scan rather than the map.
const maxFew = 8

// indexFew lists the first level's values by index for lookup when they are few.
func (x *StartIndex) indexFew() {
	if len(x.by) == 0 || len(x.by) > maxFew {
		return
	}
	x.few = make([]string, len(x.by))
	for v, i := range x.by {
		x.few[i] = v
	}
	x.few = packStrings(x.few) // the scan reads one array of bytes
}

// packStrings returns ss with their bytes copied into one allocation, in order: a scan
// of them (or of constants read together) touches one or two cache lines, not one a
// string wherever each was allocated.
func packStrings(ss []string) []string {
	n := 0
	for _, v := range ss {
		n += len(v)
	}
	b := make([]byte, 0, n)
	for _, v := range ss {
		b = append(b, v...)
	}
	all := string(b)
	out := make([]string, len(ss))
	for i, v := range ss {
		out[i], all = all[:len(v)], all[len(v):]
	}
	return out
}

// packPins copies the pins' constants into one array, and their strings' bytes into one
// allocation (packStrings), in pin order: the pins a start guard tests read neighbouring
// memory rather than one small array and one string each.
func (x *StartIndex) packPins() {
	var vals []event.Value
	var strs []string
	for _, p := range x.pins {
		for _, v := range p.Values {
			if v.Kind == event.KindString {
				strs = append(strs, v.AsString())
			}
		}
		vals = append(vals, p.Values...)
	}
	strs = packStrings(strs)
	for i, v := range vals {
		if v.Kind == event.KindString {
			vals[i], strs = event.String(strs[0]), strs[1:]
		}
	}
	for i := range x.pins {
		n := len(x.pins[i].Values)
		x.pins[i].Values, vals = vals[:n:n], vals[n:]
	}
}

// lookup returns the first level's index of the field value v (x.by[v]).
func (x *StartIndex) lookup(v string) (int, bool) {
	if x.few == nil {
		i, ok := x.by[v]
		return i, ok
	}
	for i, f := range x.few {
		if f == v { // string == compares the lengths first
			return i, true
		}
	}
	return 0, false
}

// indexMasks makes the first level's verdicts bit sets too (Mask), for at most 64
// programs.
func (x *StartIndex) indexMasks(n int) {
	if n > 64 || n == 0 {
		return
	}
	x.all = 1<<uint(n) - 1 // n == 64: 1<<64 is 0, all ones
	x.alwaysMask = maskOf(x.always, x.always)
	x.masks = make([]uint64, len(x.lists))
	for i, l := range x.lists {
		x.masks[i] = maskOf(l, x.always)
	}
}

// maskOf is the bit set of the programs l or always keeps.
func maskOf(l, always []bool) uint64 {
	var m uint64
	for pi := range l {
		if l[pi] || always[pi] {
			m |= 1 << uint(pi)
		}
	}
	return m
}

// Mask returns the programs MayStart does not rule out by the first level for the event
// of the last Candidates call, as a bit set (bit pi: program pi), and true; false when
// the index has more than 64 programs (or none). A program outside the set has
// MayStart false; one inside may still have it false by its pins.
func (x *StartIndex) Mask() (uint64, bool) { return x.mask, x.all != 0 }

// indexField builds the first level on the field most programs dispatch on (the lowest
// index among equals).
func (x *StartIndex) indexField(progs []*Program) {
	count := map[int]int{}
	for _, p := range progs {
		if f, _, ok := p.StartDispatch(); ok {
			count[f]++
		}
	}
	for f, n := range count {
		if x.field < 0 || n > count[x.field] || n == count[x.field] && f < x.field {
			x.field = f
		}
	}
	for pi, p := range progs {
		f, vals, ok := p.StartDispatch()
		if !ok || f != x.field {
			x.always[pi] = true
			continue
		}
		for _, v := range vals {
			i, ok := x.by[v]
			if !ok {
				i = len(x.lists)
				x.by[v] = i
				x.lists = append(x.lists, make([]bool, len(progs)))
			}
			x.lists[i][pi] = true
		}
	}
}

// pinKey identifies a pin among a rule set's: two pins have the same key exactly when
// they have the same schema, field, test and constants.
func pinKey(p Pin) string {
	b := fmt.Appendf(nil, "%p", p.Schema)
	b = append(b, byte(p.Op))
	b = binary.AppendUvarint(b, uint64(p.Field))
	for _, v := range p.Values {
		b = append(b, 0, byte(v.Kind))
		switch v.Kind {
		case event.KindString: // its length first: a string's bytes may be any
			b = binary.AppendUvarint(b, uint64(len(v.AsString())))
			b = append(b, v.AsString()...)
		default:
			n := uint64(v.AsInt()) // the bits of an int, a double or a bool
			if v.Kind == event.KindBool && v.AsBool() {
				n = 1
			}
			for i := 0; i < 64; i += 8 {
				b = append(b, byte(n>>i))
			}
		}
	}
	return string(b)
}

// Candidates starts the per-event work for ev and returns the first level's verdict, for
// MayStart: nil when it rules nothing out (the event's field is not a present string).
func (x *StartIndex) Candidates(ev *event.Event) []bool {
	x.ev, x.mask, x.row = ev, x.all, -1
	if ev.Schema != x.schema || x.applies == nil {
		x.schema, x.applies = ev.Schema, make([]bool, len(x.pins))
		for i := range x.pins {
			x.applies[i] = x.pins[i].Applies(ev.Schema)
		}
	}
	x.verdicts.next()
	if x.field < 0 {
		return nil
	}
	v := ev.Value(x.field) // missing past the event's values
	if v.Kind != event.KindString {
		return nil
	}
	i, ok := x.lookup(v.AsString())
	if !ok {
		x.mask, x.row = x.alwaysMask, len(x.lists)*len(x.always)
		return x.always
	}
	x.row = i * len(x.always)
	if x.masks != nil {
		x.mask = x.masks[i]
	}
	for _, d := range x.decided[i] { // the value read here is the one these pins test
		x.verdicts.put(d.id, x.applies[d.id] && d.fails)
	}
	return x.lists[i]
}

// MayStart reports whether CanStart must be asked of program pi for the event of the last
// Candidates call, which returned cand.
func (x *StartIndex) MayStart(cand []bool, pi int) bool {
	if cand != nil && !cand[pi] && !x.always[pi] {
		return false
	}
	lo, hi := x.gat[pi], x.gat[pi+1]
	if lo == hi {
		return true // no pins
	}
	for g := lo; g < hi; {
		n := x.guards[g]
		if !x.anyFails(x.guards[g+1 : g+1+n]) {
			return true // this guard may hold
		}
		g += 1 + n
	}
	return false // every start guard is false
}

// anyFails reports whether one of the pins fails for the current event, testing each
// pin at most once per event.
func (x *StartIndex) anyFails(ids []int32) bool {
	for _, id := range ids {
		fails, ok := x.verdicts.get(int(id))
		if !ok {
			fails = x.applies[id] && x.pins[id].failsValue(x.ev)
			x.verdicts.put(int(id), fails)
		}
		if fails {
			return true
		}
	}
	return false
}

// indexGuards flattens starts into guards and gat, and makes the pins' verdicts.
func (x *StartIndex) indexGuards() {
	x.gat = make([]int32, len(x.starts)+1)
	x.guards = x.guards[:0]
	for pi, gs := range x.starts {
		x.gat[pi] = int32(len(x.guards))
		for _, g := range gs {
			x.guards = append(x.guards, int32(len(g)))
			for _, id := range g {
				x.guards = append(x.guards, int32(id))
			}
		}
	}
	x.gat[len(x.starts)] = int32(len(x.guards))
	x.verdicts.w = make([]uint32, len(x.pins))
}

// indexWaits adds to the first level the values the programs' other states dispatch on
// (a value no program starts with keeps only always's programs, as an unindexed one
// did) and builds waits.
func (x *StartIndex) indexWaits(progs []*Program) {
	if x.field < 0 {
		return
	}
	states := make([][]waitValues, len(progs))
	for pi, p := range progs {
		states[pi] = p.waitDispatch(x.field)
		for _, sv := range states[pi] {
			for _, v := range sv.values {
				if _, ok := x.by[v]; !ok {
					x.by[v] = len(x.lists)
					x.lists = append(x.lists, make([]bool, len(progs)))
				}
			}
		}
	}
	n := len(progs)
	x.waits = make([]uint64, (len(x.lists)+1)*n)
	for i := range x.waits {
		x.waits[i] = ^uint64(0)
	}
	for pi := range progs {
		for _, sv := range states[pi] {
			in := make([]bool, len(x.lists))
			for _, v := range sv.values {
				in[x.by[v]] = true
			}
			for i := range x.lists {
				if !in[i] {
					x.waits[i*n+pi] &^= 1 << uint(sv.state)
				}
			}
			x.waits[len(x.lists)*n+pi] &^= 1 << uint(sv.state) // a value none of them admits
		}
	}
}

// Hint hands sc Waits(pi) for the Process call that follows, of a matcher of program pi
// for ev, the event of the last Candidates call (Scratch.Hint).
func (x *StartIndex) Hint(sc *Scratch, pi int, ev *event.Event) {
	sc.Hint(x.progs[pi], ev, x.Waits(pi))
}

// Waits returns the states of program pi (bit s: state s) whose waiting runs the event
// of the last Candidates call may change; the others' runs it leaves as they are, by
// their event-only guards (Program.ruledOut is true for them). Every bit is set when the
// index cannot tell. Hand it to the program's matcher with Scratch.Hint.
func (x *StartIndex) Waits(pi int) uint64 {
	if x.waits == nil || x.row < 0 {
		return ^uint64(0)
	}
	return x.waits[x.row+pi]
}
