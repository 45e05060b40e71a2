package nfa

import (
	"testing"

	"github.com/cepd/cepd/event"
)

// TestImportChecksLatestTime: a run keeps no latest time of its own (run.prevTs is its
// node's event's, or its start time without a node), so Import refuses a snapshot whose
// run's PrevTs is another, and accepts the same snapshot with the consistent one (what
// every Export writes, and what the previous layout's Export wrote: a run took its node
// and its latest time from the same event).
func TestImportChecksLatestTime(t *testing.T) {
	prog, err := Compile(benchPatterns()[1].pat, benchResolve, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &event.Event{Seq: 1, Time: 1000}
	snap := func(prev, startPrev int64) *Snapshot {
		return &Snapshot{
			Nodes: []NodeSnapshot{{Event: 0, Step: 0, Edges: []EdgeSnapshot{{Prev: -1, Version: []int32{1}}}}},
			Partial: []RunSnapshot{
				{State: int32(prog.start.id), Node: -1, Version: []int32{2}, StartEv: -1, StartTs: -1, PrevTs: startPrev},
				{State: int32(prog.states[1].id), Node: 0, Version: []int32{1, 0}, StartEv: 0, StartTs: 1000, PrevTs: prev},
			},
		}
	}
	m, err := prog.Import(snap(1000, -1), []*event.Event{ev})
	if err != nil {
		t.Fatalf("a consistent snapshot is refused: %v", err)
	}
	for _, r := range m.partial {
		if want := map[bool]int64{true: -1, false: 1000}[r.node == nil]; r.prevTs() != want {
			t.Fatalf("run at %s: latest time %d, want %d", r.st.name, r.prevTs(), want)
		}
	}
	for _, bad := range [][2]int64{{999, -1}, {1001, -1}, {1000, 0}} {
		if _, err := prog.Import(snap(bad[0], bad[1]), []*event.Event{ev}); err == nil {
			t.Errorf("a run at its node with latest time %d (its event's: 1000), the start run's %d (want -1): accepted", bad[0], bad[1])
		}
	}
}
