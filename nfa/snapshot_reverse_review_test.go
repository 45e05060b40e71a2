package nfa

import (
	"math"
	"reflect"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// TestSnapshotGoesOnMatcherStays is TestSnapshotKeepsHeldMatches the other way round: the
// snapshot (frozen, sharing the held matches' *runHeap) processes the rest of the stream,
// is Reset, CutAll'd, or cut by a tiny budget; the matcher it was taken from must stay what
// a Clone taken at the same moment is. (Review of s17-memory; passes on main.)
func TestSnapshotGoesOnMatcherStays(t *testing.T) {
	ab := &patterns.Pattern{Skip: patterns.Skip{Kind: patterns.SkipPastLastEvent}, Release: patterns.InStartOrder,
		Steps: []*patterns.Step{{Name: "a", Where: "a"}, {Name: "b", Where: "b>a"}}}
	abc := &patterns.Pattern{Skip: patterns.Skip{Kind: patterns.SkipToFirst, Step: "b"}, Release: patterns.InStartOrder,
		Steps: []*patterns.Step{{Name: "a", Where: "a"}, {Name: "b", Where: "b"}, {Name: "c", Where: "c>a"}}}
	held := 0
	for _, tt := range []struct {
		pat    *patterns.Pattern
		stream string
	}{{ab, "a5 a1 b2 a3 b4 b9 a1 b2 b3 a0 b1"}, {abc, "a5 a1 b0 a2 c3 c9 a4 a1 b2 c2 c3 c9"}} {
		prog, err := Compile(tt.pat, valueResolve, Options{})
		if err != nil {
			t.Fatal(err)
		}
		evs := valueEvents(t, tt.stream)
		for at := range evs {
			for change := range 4 {
				m, sc := prog.NewMatcher(), NewScratch()
				var res Result
				for _, ev := range evs[:at] {
					m.Advance(ev.Time, sc, &res)
					m.Process(ev, sc, &res)
				}
				if len(m.held()) > 0 {
					held++
				}
				snap, want := m.Snapshot(), m.Clone()
				m.Recount()
				snap.Recount()
				switch change {
				case 0:
					for _, ev := range evs[at:] {
						snap.Advance(ev.Time, sc, &res)
						snap.Process(ev, sc, &res)
					}
					snap.Advance(math.MaxInt64, sc, &res)
				case 1:
					snap.Reset()
				case 2:
					snap.CutAll("test", sc, &res)
				case 3:
					sc.Budget = Budget{Runs: 1, Nodes: 1, Digits: 1}
					for _, ev := range evs[at:] {
						snap.Advance(ev.Time, sc, &res)
						snap.Process(ev, sc, &res)
					}
				}
				m.Recount()
				i2 := map[*event.Event]int32{}
				if got, exp := export(m, i2), export(want, i2); !reflect.DeepEqual(got, exp) {
					t.Fatalf("%s after %d, change %d: matcher changed with its snapshot:\n got %+v\nwant %+v", tt.stream, at, change, got, exp)
				}
			}
		}
	}
	if held < 6 {
		t.Fatalf("only %d snapshots were taken with held matches: weak test", held)
	}
}
