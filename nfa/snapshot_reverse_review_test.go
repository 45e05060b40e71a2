package nfa

import (
	"reflect"
	"testing"

	"github.com/cepd/cepd/event"
)

// TestSnapshotGoesOnMatcherStays is TestSnapshotKeepsHeldMatches the other way round: the
// snapshot (frozen, sharing the held matches' *runHeap) processes the rest of the stream,
// is Reset, CutAll'd, or cut by a tiny budget; the matcher it was taken from must stay what
// a Clone taken at the same moment is. (Review of s17-memory; passes on main.)
func TestSnapshotGoesOnMatcherStays(t *testing.T) {
	heldSnapshotCases(t, 4, func(name string, m *Matcher, rest []*event.Event, change int, sc *Scratch, res *Result) {
		snap, want := m.Snapshot(), m.Clone()
		m.Recount()
		snap.Recount()
		heldChange(snap, change, rest, sc, res)
		m.Recount()
		i2 := map[*event.Event]int32{}
		if got, exp := export(m, i2), export(want, i2); !reflect.DeepEqual(got, exp) {
			t.Fatalf("%s, change %d: matcher changed with its snapshot:\n got %+v\nwant %+v", name, change, got, exp)
		}
	})
}
