package nfa

import (
	"math"
	"reflect"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// TestSnapshotResume: exporting and importing a matcher at any point of a stream gives the
// same matches as running without interruption.
func TestSnapshotResume(t *testing.T) {
	for _, bp := range benchPatterns() {
		if bp.name == "no_step_matches" {
			continue
		}
		t.Run(bp.name, func(t *testing.T) {
			bp.pat.Skip = patterns.Skip{Kind: patterns.SkipToNext}
			prog, err := Compile(bp.pat, benchResolve, Options{Timeouts: true})
			if err != nil {
				t.Fatal(err)
			}
			evs := benchEvents(bp.mix, 1, 3000)
			runAll := func(cut int) []string {
				m := prog.NewMatcher()
				sc := NewScratch()
				var res Result
				var out []string
				collect := func() { out = appendResults(out, &res) }
				for i, ev := range evs {
					if i == cut {
						snap, list := exportList(m)
						// events come back as copies, as from a checkpoint
						copies := make([]*event.Event, len(list))
						for j, e := range list {
							copies[j] = e.Clone()
						}
						if m, err = prog.Import(snap, copies); err != nil {
							t.Fatal(err)
						}
					}
					m.Advance(ev.Time, sc, &res)
					m.Process(ev, sc, &res)
					collect()
				}
				m.Advance(math.MaxInt64, sc, &res)
				collect()
				return out
			}
			want := runAll(-1)
			if len(want) == 0 {
				t.Fatal("no matches: weak test")
			}
			for _, cut := range []int{0, 1, 17, 150, 1499, 2999} {
				if got := runAll(cut); !reflect.DeepEqual(got, want) {
					t.Fatalf("resume at %d: %d results, want %d", cut, len(got), len(want))
				}
			}
		})
	}
}

func matchString(m Match) string {
	s := ""
	for _, st := range m.Steps {
		s += st.Step + ":"
		for _, e := range st.Events {
			s += string(rune('0'+e.Seq%10)) + ","
		}
	}
	return s
}

func TestImportRejectsBadSnapshots(t *testing.T) {
	prog, err := Compile(benchPatterns()[1].pat, benchResolve, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &event.Event{Seq: 1}
	good := func() *Snapshot {
		return &Snapshot{Partial: []RunSnapshot{{State: int32(prog.start.id), Node: -1, Version: []int32{1}, StartEv: -1, StartTs: -1, PrevTs: -1}}}
	}
	if _, err := prog.Import(good(), nil); err != nil {
		t.Fatalf("good snapshot rejected: %v", err)
	}
	bad := []func(s *Snapshot){
		func(s *Snapshot) { s.Partial[0].State = 99 },
		func(s *Snapshot) { s.Partial[0].Node = 3 },
		func(s *Snapshot) { s.Partial[0].Version = nil },
		func(s *Snapshot) { s.Partial[0].StartEv = 5 },
		func(s *Snapshot) { // a run whose start time is not its first event's (run.startTs reads it there)
			s.Partial = append(s.Partial, RunSnapshot{State: int32(prog.states[1].id), Node: -1, Version: []int32{1, 0}, StartEv: 0, StartTs: 7})
		},
		func(s *Snapshot) { // a start time without a first event (a run that took nothing starts at -1)
			s.Partial[0].StartTs, s.Partial[0].PrevTs = 7, 7
		},
		func(s *Snapshot) { // a run past the start state that took no first event
			s.Partial = append(s.Partial, RunSnapshot{State: int32(prog.states[1].id), Node: -1, Version: []int32{1, 0}, StartEv: -1, StartTs: -1, PrevTs: -1})
		},
		func(s *Snapshot) { s.Partial = append(s.Partial, s.Partial[0]) }, // two start runs (none is good: TestSnapshotResumesStoppedStart)
		func(s *Snapshot) { s.Nodes = []NodeSnapshot{{Event: 0, Step: 0}} },
		func(s *Snapshot) {
			s.Nodes = []NodeSnapshot{{Event: 0, Step: 0, Edges: []EdgeSnapshot{{Prev: 0, Version: []int32{1}}}}}
		},
		func(s *Snapshot) {
			s.Nodes = []NodeSnapshot{{Event: 0, Step: 9, Edges: []EdgeSnapshot{{Prev: -1, Version: []int32{1}}}}}
		},
	}
	for i, mutate := range bad {
		s := good()
		mutate(s)
		if _, err := prog.Import(s, []*event.Event{ev}); err == nil {
			t.Errorf("bad snapshot %d accepted", i)
		}
	}
}
