package nfa

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/cepd/cepd/event"
)

// TestClearRunsZeroesRun: clearRuns leaves every field of a run at its zero value, on
// both of its paths (stores up to maxLoopClear, clear beyond), and copyRuns copies every
// field. Both name run's fields one by one; a field added to run that they do not name
// (a pointer a dropped run would keep from the collector, or a value copyRuns would
// lose) fails here. Every field is set through reflect, so the test names none.
func TestClearRunsZeroesRun(t *testing.T) {
	ev := &event.Event{Seq: 1}
	n := &node{}
	st := &state{}
	fill := func(r *run, tag int) {
		v := reflect.ValueOf(r).Elem()
		for i := range v.NumField() {
			f := v.Field(i)
			f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem() // unexported
			switch f.Kind() {
			case reflect.Pointer:
				switch f.Type() {
				case reflect.TypeOf(ev):
					f.Set(reflect.ValueOf(ev))
				case reflect.TypeOf(n):
					f.Set(reflect.ValueOf(n))
				case reflect.TypeOf(st):
					f.Set(reflect.ValueOf(st))
				default:
					t.Fatalf("run field %s: type %s not known to the test", v.Type().Field(i).Name, f.Type())
				}
			case reflect.String:
				f.SetString(fmt.Sprintf("v%d", tag))
			case reflect.Int, reflect.Int32, reflect.Int64:
				f.SetInt(int64(tag + 1))
			default:
				t.Fatalf("run field %s: kind %s not known to the test", v.Type().Field(i).Name, f.Kind())
			}
		}
	}
	for _, l := range []int{0, 1, 2, maxLoopClear - 1, maxLoopClear, maxLoopClear + 1, 20} {
		rs := make([]run, l)
		for i := range rs {
			fill(&rs[i], i)
		}
		dst := make([]run, l)
		copyRuns(dst, rs)
		if !slices.Equal(dst, rs) {
			t.Fatalf("%d runs: copyRuns gave %v, want %v", l, dst, rs)
		}
		copyRuns(rs, rs) // CutAll's setPartial(m.partial): a copy onto itself
		if !slices.Equal(dst, rs) {
			t.Fatalf("%d runs: copyRuns onto itself changed them", l)
		}
		clearRuns(rs)
		for i := range rs {
			if rs[i] != (run{}) {
				t.Fatalf("%d runs: clearRuns left run %d as %+v", l, i, rs[i])
			}
		}
		ns := make([]*node, l)
		for i := range ns {
			ns[i] = n
		}
		clearNodes(ns)
		if slices.ContainsFunc(ns, func(x *node) bool { return x != nil }) {
			t.Fatalf("%d nodes: clearNodes left one", l)
		}
	}
}

// setPartialAppend is setPartial as it was before copyRuns (ec5ba00): the reference for
// TestSetPartialMatchesAppend.
func setPartialAppend(m *Matcher, runs runHeap) {
	if m.frozen {
		m.partial = append(make(runHeap, 0, max(len(runs), 2)), runs...)
		m.frozen = false
		return
	}
	if len(runs) < len(m.partial) {
		clear(m.partial[len(runs):])
	}
	m.partial = append(m.partial[:0], runs...)
}

// TestSetPartialMatchesAppend: setPartial leaves the matcher as append did before it
// copied with copyRuns: the same runs, the same capacity (Footprint and the bytes budget
// read cap(m.partial), so a capacity that differed would move budget cuts), and the same
// array (in place exactly when append wrote in place, a new one exactly when append
// allocated: a frozen matcher's old array, its snapshot's, is never written).
func TestSetPartialMatchesAppend(t *testing.T) {
	evs := []*event.Event{{Seq: 1}, {Seq: 2}, {Seq: 3}}
	st := &state{}
	mk := func(n, tag int) runHeap {
		rs := make(runHeap, n)
		for i := range rs {
			rs[i] = run{st: st, node: &node{step: int32(i)}, startEv: evs[(i+tag)%len(evs)], ver: deweyOf(int32(i+1), int32(tag))}
		}
		return rs
	}
	for before := 0; before <= 20; before++ {
		for _, extra := range []int{0, 1, 5} {
			for n := 0; n <= 20; n++ {
				for _, frozen := range []bool{false, true} {
					for _, self := range []bool{false, true} { // CutAll: setPartial(m.partial)
						if self && n != before {
							continue
						}
						var ms [2]*Matcher
						var olds [2]runHeap
						base := mk(before, 1)
						for k := range ms {
							m := &Matcher{partial: make(runHeap, before, before+extra)}
							copy(m.partial, base)
							m.frozen = frozen
							olds[k] = m.partial
							ms[k] = m
						}
						keep := slices.Clone(olds[0])
						runs := mk(n, 2)
						if self {
							runs = slices.Clone(olds[0])
						}
						at := fmt.Sprintf("%d runs over %d (cap %d, frozen %v, self %v)", n, before, before+extra, frozen, self)
						if self {
							setPartialAppend(ms[0], ms[0].partial)
							ms[1].setPartial(ms[1].partial)
						} else {
							setPartialAppend(ms[0], slices.Clone(runs))
							ms[1].setPartial(slices.Clone(runs))
						}
						want, got := ms[0], ms[1]
						if !slices.Equal(got.partial, runs) || !slices.Equal(want.partial, runs) {
							t.Fatalf("%s: partial %v, reference %v, want %v", at, got.partial, want.partial, runs)
						}
						if cap(got.partial) != cap(want.partial) {
							t.Fatalf("%s: cap %d, append gave %d", at, cap(got.partial), cap(want.partial))
						}
						sameW := cap(want.partial) > 0 && cap(olds[0]) > 0 && &want.partial[:1][0] == &olds[0][:1][0]
						sameG := cap(got.partial) > 0 && cap(olds[1]) > 0 && &got.partial[:1][0] == &olds[1][:1][0]
						if sameW != sameG {
							t.Fatalf("%s: in place %v, append in place %v", at, sameG, sameW)
						}
						if got.frozen {
							t.Fatalf("%s: still frozen", at)
						}
						if frozen && !slices.Equal(olds[1][:cap(olds[1])][:before], keep) {
							t.Fatalf("%s: the frozen matcher's old array changed", at)
						}
						if rest := got.partial[len(got.partial):cap(got.partial)]; slices.ContainsFunc(rest, func(r run) bool { return r != (run{}) }) {
							t.Fatalf("%s: a run beyond the length refers to something", at)
						}
					}
				}
			}
		}
	}
}

// TestScratchSharedAcrossPrograms: a matcher run with a Scratch another program used
// before (a shard's scratch serves every rule, and keeps serving after a reload) gives
// exactly what it gives with a fresh Scratch. computeNext no longer clears its list of
// decision edges, so the scratch holds the last program's edges beyond the list's
// length: one of them read (a longer list followed by a shorter one, from another
// program) would show here as a different match, timeout or run.
func TestScratchSharedAcrossPrograms(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 7))
	progs := randomPrograms(r, 12)
	evs := make([]*event.Event, 60)
	ts := int64(0)
	for i := range evs {
		ts += int64(r.IntN(3))
		evs[i] = (&event.Event{Seq: uint64(i + 1), Time: ts, Schema: benchSchema}).
			SetValues([]event.Value{event.String(string(rune('a' + r.IntN(5)))), event.String("k"), event.Int(ts)})
	}
	run := func(progs []*Program, sc *Scratch, reset bool) string {
		var b strings.Builder
		ms := make([]*Matcher, len(progs))
		for i, p := range progs {
			ms[i] = p.NewMatcher()
		}
		var res Result
		for j, ev := range evs {
			for i, m := range ms { // interleaved: each step follows another program's
				if reset && j == len(evs)/2 && m.Idle() {
					m.Reset()
				}
				m.Advance(ev.Time, sc, &res)
				m.Process(ev, sc, &res)
				fmt.Fprintf(&b, "%d/%d %s%s\n", j, i, resultString(&res), dumpRuns(m))
				res.Reset()
			}
		}
		for i, m := range ms {
			m.Advance(math.MaxInt64, sc, &res)
			fmt.Fprintf(&b, "end/%d %s%s\n", i, resultString(&res), dumpRuns(m))
			res.Reset()
		}
		return b.String()
	}
	for i := range progs {
		for _, reset := range []bool{false, true} {
			alone := run(progs[i:i+1], NewScratch(), reset)
			shared := NewScratch()
			run(progs, shared, reset) // every program through the scratch first
			after := run(progs[i:i+1], shared, reset)
			if after != alone {
				t.Fatalf("program %d (reset %v): after other programs used its scratch\n%s\nalone\n%s", i, reset, after, alone)
			}
		}
	}
}

// TestScratchForgetsPrograms: after ForgetPrograms (the engine calls it when it swaps
// rule sets) a scratch refers to no state of the programs it served before: since
// computeNext stopped clearing its decision edges, the edges a longer list left beyond
// a shorter one's length kept an old program reachable (22 of 29 program changes here
// before ForgetPrograms).
func TestScratchForgetsPrograms(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 7))
	progs := randomPrograms(r, 30)
	feed := func(p *Program, sc *Scratch) { feedLetters(p.NewMatcher(), sc, r) }
	for i := 1; i < len(progs); i++ {
		sc := NewScratch()
		feed(progs[0], sc)
		sc.ForgetPrograms()
		feed(progs[i], sc)
		owned := map[*state]bool{}
		var walk func(s *state)
		walk = func(s *state) {
			if s != nil && !owned[s] {
				owned[s] = true
				for _, e := range s.edges {
					walk(e.target)
				}
			}
		}
		walk(progs[i].start)
		stale := slices.ContainsFunc(sc.edges[:cap(sc.edges)], func(oe outEdge) bool { return oe.src != nil && !owned[oe.src] }) ||
			slices.ContainsFunc(sc.stack[:cap(sc.stack)], func(s *state) bool { return s != nil && !owned[s] }) ||
			slices.ContainsFunc(sc.fstack[:cap(sc.fstack)], func(s *state) bool { return s != nil && !owned[s] })
		if stale {
			t.Fatalf("program %d: the scratch still refers to a state of the program before ForgetPrograms", i)
		}
	}
}

// randomPrograms compiles n random patterns (fuzzPattern over bytes drawn from r),
// skipping those that do not compile.
func randomPrograms(r *rand.Rand, n int) []*Program {
	var progs []*Program
	for len(progs) < n {
		var data [64]byte
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		prog, err := Compile(fuzzPattern(&fuzzBytes{b: data[:]}), letterResolve, Options{Timeouts: true, MaxRuns: 256})
		if err == nil {
			progs = append(progs, prog)
		}
	}
	return progs
}

// feedLetters advances m over 60 events of the letters a–e drawn from r, 0–2 time units
// apart, through sc.
func feedLetters(m *Matcher, sc *Scratch, r *rand.Rand) {
	var res Result
	ts := int64(0)
	for j := range 60 {
		ts += int64(r.IntN(3))
		ev := (&event.Event{Seq: uint64(j + 1), Time: ts, Schema: benchSchema}).
			SetValues([]event.Value{event.String(string(rune('a' + r.IntN(5)))), event.String("k"), event.Int(ts)})
		m.Advance(ev.Time, sc, &res)
		m.Process(ev, sc, &res)
		res.Reset()
	}
}
