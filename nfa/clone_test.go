package nfa

import (
	"math"
	"reflect"
	"testing"

	"github.com/cepd/cepd/event"
)

// export is the matcher's state as text-comparable data, events numbered by pointer.
func export(m *Matcher, idx map[*event.Event]int32) *Snapshot {
	return m.Export(func(e *event.Event) int32 {
		if j, ok := idx[e]; ok {
			return j
		}
		idx[e] = int32(len(idx))
		return idx[e]
	})
}

// eachSeededProgram calls f for each seed below seeds whose random program compiles
// (seededProgram), with a fresh stream of events over letters a to e.
func eachSeededProgram(seeds, events int, f func(seed int, prog *Program, evs []*event.Event)) {
	for seed := range seeds {
		prog, err := seededProgram(seed)
		if err != nil {
			continue
		}
		f(seed, prog, benchEvents("abcde", 1, events))
	}
}

// TestSnapshotIsCopyOnWrite takes snapshots of matchers of random programs as the engine
// takes a key's base, then changes the matcher (events, time, cuts, a reset) and wants
// each snapshot to be still what a full Clone taken at the same moment is, and a replay
// from it to reproduce the matcher.
func TestSnapshotIsCopyOnWrite(t *testing.T) {
	checked := 0
	eachSeededProgram(150, 300, func(seed int, prog *Program, evs []*event.Event) {
		m := prog.NewMatcher()
		sc := NewScratch()
		var res Result
		idx := map[*event.Event]int32{}
		var snap, want *Matcher
		var since []*event.Event
		cut := false
		for i, ev := range evs {
			if i%17 == 5 {
				snap, want, since, cut = m.Snapshot(), m.Clone(), since[:0], false
				// A frozen matcher reset (recycled, as the engine does after a re-match) or
				// cut before it changes must leave its snapshot as it was.
				for k, change := range []func(*Matcher){func(c *Matcher) { c.Reset() }, func(c *Matcher) { c.CutAll("test", sc, &res) }} {
					c := m.Clone()
					cs, cw := c.Snapshot(), c.Clone()
					change(c)
					res.Reset()
					if got, exp := export(cs, idx), export(cw, idx); !reflect.DeepEqual(got, exp) {
						t.Fatalf("seed %d event %d: change %d of a frozen matcher changed its snapshot", seed, i, k)
					}
				}
				m.Recount()
			}
			since = append(since, ev)
			m.Advance(ev.Time, sc, &res)
			m.Process(ev, sc, &res)
			if i%41 == 40 {
				m.CutAll("test", sc, &res)
				cut = true
			}
			res.Reset()
			if snap == nil || i%17 != 4 {
				continue
			}
			checked++
			if got, exp := export(snap, idx), export(want, idx); !reflect.DeepEqual(got, exp) {
				t.Fatalf("seed %d event %d: the snapshot changed with its matcher:\n got %+v\nwant %+v", seed, i, got, exp)
			}
			r := snap.Clone()
			for _, e := range since {
				r.Advance(e.Time, sc, &res)
				r.Process(e, sc, &res)
				res.Reset()
			}
			if !cut { // the replay is the matcher
				if got, exp := export(r, idx), export(m, idx); !reflect.DeepEqual(got, exp) {
					t.Fatalf("seed %d event %d: a replay from the snapshot differs from the matcher", seed, i)
				}
			}
			m.Recount()
		}
		m.Advance(math.MaxInt64, sc, &res)
	})
	if checked < 500 {
		t.Fatalf("only %d snapshots checked", checked)
	}
}

// TestThawOwnsArrays: a snapshot freezes the matcher (its next change copies its run
// array away from the snapshot); Thaw, once the snapshot is dropped, lets the change write
// the array in place, and the matcher goes on as an unfrozen one does.
func TestThawOwnsArrays(t *testing.T) {
	checked := 0
	eachSeededProgram(60, 120, func(seed int, prog *Program, evs []*event.Event) {
		m, ref := prog.NewMatcher(), prog.NewMatcher()
		sc, rsc := NewScratch(), NewScratch()
		var res, rres Result
		for i, ev := range evs {
			thawed := i%7 == 3
			if thawed {
				m.Snapshot() // dropped at once, as the engine drops an ended journal's base
				m.Thaw()
			}
			before, n := &m.partial[:1][0], cap(m.partial)
			m.Advance(ev.Time, sc, &res)
			m.Process(ev, sc, &res)
			// (a matcher whose runs fit its block's free array again goes back to it:
			// backToBlock; that is no copy for a freeze)
			back := m.flags&inBlock != 0 && &m.partial[:1][0] == &m.blockOf().runs[0]
			if thawed && len(m.partial) <= n && &m.partial[:1][0] != before && !back {
				t.Fatalf("seed %d event %d: a thawed matcher copied its run array", seed, i)
			}
			if thawed && len(m.partial) <= n {
				checked++
			}
			ref.Advance(ev.Time, rsc, &rres)
			ref.Process(ev, rsc, &rres)
			if a, b := resultString(&res), resultString(&rres); a != b {
				t.Fatalf("seed %d event %d: thawed matcher gives\n%s\nunfrozen one gives\n%s", seed, i, a, b)
			}
			if a, b := dumpRuns(m), dumpRuns(ref); a != b {
				t.Fatalf("seed %d event %d: runs\n%s\nunfrozen one's\n%s", seed, i, a, b)
			}
			res.Reset()
			rres.Reset()
		}
	})
	if checked < 100 {
		t.Fatalf("only %d thawed changes checked", checked)
	}
}
