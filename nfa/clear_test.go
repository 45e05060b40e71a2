package nfa

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// TestStepsLeaveNoStaleReferences: what a matcher step leaves beyond the length of the
// scratch's heaps and nodes and of the matcher's run arrays refers to nothing (clearRuns,
// clearNodes): a shard's scratch or a key's matcher that kept a dropped run's entry or
// event would keep them from the collector. Random patterns and streams, checked after
// every Advance, Process and Reset; runs beyond maxLoopClear take clear's path.
func TestStepsLeaveNoStaleReferences(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	long, checked := 0, 0
	for range 1000 {
		var data [64]byte
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		pat := fuzzPattern(&fuzzBytes{b: data[:]})
		prog, err := Compile(pat, letterResolve, Options{Timeouts: true, MaxRuns: 1 << 20})
		if err != nil {
			continue
		}
		m, sc := prog.NewMatcher(), NewScratch()
		var res Result
		check := func(at string) {
			t.Helper()
			checked++
			long = max(long, len(m.partial))
			for name, h := range map[string]runHeap{"scratch next": sc.next, "scratch newRuns": sc.newRuns,
				"scratch potent": sc.potent, "partial": m.partial, "completed": m.held()} {
				for i, x := range h[len(h):cap(h)] {
					if x.st != nil || x.node != nil || x.startEv != nil || x.ver != "" {
						t.Fatalf("pattern\n%s\n%s: %s[%d] beyond its length %d refers to something", pat, at, name, len(h)+i, len(h))
					}
				}
			}
			for i, n := range sc.nodes[len(sc.nodes):cap(sc.nodes)] {
				if n != nil {
					t.Fatalf("pattern\n%s\n%s: scratch nodes[%d] beyond its length refers to a node", pat, at, len(sc.nodes)+i)
				}
			}
			res.Reset()
		}
		ts := int64(0)
		for i := 0; i < 40; i++ {
			ts += int64(r.IntN(3))
			ev := (&event.Event{Seq: uint64(i + 1), Time: ts, Schema: benchSchema}).
				SetValues([]event.Value{event.String(string(rune('a' + r.IntN(5)))), event.String("k"), event.Int(ts)})
			m.Advance(ev.Time, sc, &res)
			check(fmt.Sprintf("advance to event %d", i))
			m.Process(ev, sc, &res)
			check(fmt.Sprintf("event %d", i))
		}
		m.Advance(math.MaxInt64, sc, &res)
		check("the end")
		if m.Idle() {
			m.Reset()
			check("reset")
		}
	}
	if long <= maxLoopClear {
		t.Fatalf("weak test: at most %d runs, never more than %d (clear's path)", long, maxLoopClear)
	}
	t.Logf("%d steps checked, up to %d runs", checked, long)
}

// TestSetPartialCopiesRuns: setPartial's copy (copyRuns: stores up to maxLoopClear runs,
// copy beyond) gives the matcher exactly the runs, in place when they fit and the matcher
// is not frozen, in a new array when it is (its old array, its snapshot's, unchanged).
func TestSetPartialCopiesRuns(t *testing.T) {
	prog, err := Compile(&patterns.Pattern{Steps: []*patterns.Step{{Name: "a", Where: "a"}, {Name: "b", Where: "b"}}}, letterResolve, Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]*event.Event, 20)
	for i := range evs {
		evs[i] = (&event.Event{Seq: uint64(i + 1), Time: int64(i)}).SetValues(nil)
	}
	mk := func(n, tag int) runHeap {
		rs := make(runHeap, n)
		for i := range rs {
			rs[i] = run{st: prog.start, node: &node{step: int32(i)}, startEv: evs[(i+tag)%len(evs)], ver: deweyOf(int32(i+1), int32(tag))}
		}
		return rs
	}
	for before := 0; before <= 12; before++ {
		for n := 0; n <= 12; n++ {
			for _, frozen := range []bool{false, true} {
				m := prog.NewMatcher()
				m.partial = mk(before, 1)
				old := slices.Clone(m.partial)
				oldArr := m.partial
				if frozen {
					_ = m.Snapshot()
				}
				runs := mk(n, 2)
				m.setPartial(slices.Clone(runs))
				if !slices.Equal(m.partial, runs) {
					t.Fatalf("%d runs over %d (frozen %v): partial %v, want %v", n, before, frozen, m.partial, runs)
				}
				if frozen && cap(m.partial) < 2 || m.frozen {
					t.Fatalf("%d runs over %d (frozen %v): cap %d, frozen after %v", n, before, frozen, cap(m.partial), m.frozen)
				}
				if frozen && !slices.Equal(oldArr, old) {
					t.Fatalf("%d runs over %d: the frozen matcher's old array changed", n, before)
				}
				if rest := m.partial[len(m.partial):cap(m.partial)]; slices.ContainsFunc(rest, func(r run) bool { return r.node != nil || r.st != nil }) {
					t.Fatalf("%d runs over %d (frozen %v): a run beyond the length refers to something", n, before, frozen)
				}
			}
		}
	}
}
