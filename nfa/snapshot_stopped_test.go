package nfa

import (
	"math"
	"reflect"
	"testing"

	"github.com/cepd/cepd/event"
)

// TestSnapshotResumesStoppedStart: a matcher whose start run is gone (a run from the
// start state reached the stop state, and offerNext discarded the start run with it)
// restores from its checkpoint and goes on exactly as without the checkpoint: the same
// matches and timeouts, and no new match started by a start run it did not have.
// Before Import took a snapshot without a start run it refused it, and the engine
// restored a fresh matcher instead (it lost the key's partial matches and could start
// new ones).
func TestSnapshotResumesStoppedStart(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 600
	}
	found := 0
	randomInputs(16, n, func(data []byte) {
		fb, pat, prog, ok := expiresProgram(data)
		if !ok {
			return
		}
		evs := fuzzStream(fb, 60)
		stopped := -1 // the first event after which the matcher has no start run
		want := resumeAt(t, prog, evs, -1, func(i int, m *Matcher) {
			if !hasStartRun(m) {
				if stopped < 0 {
					stopped = i
				}
				if got := m.Live(); got != len(m.partial)+len(m.held()) {
					t.Fatalf("Live %d without a start run, want every run: %d", got, len(m.partial)+len(m.held()))
				}
			}
		})
		if stopped < 0 {
			return
		}
		found++
		for _, cut := range []int{stopped + 1, stopped + 5, len(evs)} {
			if got := resumeAt(t, prog, evs, min(cut, len(evs)), nil); !reflect.DeepEqual(got, want) {
				t.Fatalf("resumed before event %d (start run gone after %d): %q, want %q\npattern %s", cut, stopped, got, want, pat)
			}
		}
	})
	if found < n/50 {
		t.Fatalf("a start run stopped in %d streams of %d: the check is vacuous", found, n)
	}
	t.Logf("start run stopped in %d streams of %d", found, n)
}

// resumeAt runs evs through a new matcher of prog, advancing its clock to each event's
// time first, and returns its matches and timeouts (then those of the end of time);
// before event cut (none when cut < 0) it replaces the matcher by its checkpoint's
// import, from copies of the events. after, if set, sees the matcher after each event.
func resumeAt(t *testing.T, prog *Program, evs []*event.Event, cut int, after func(i int, m *Matcher)) []string {
	t.Helper()
	m, sc := prog.NewMatcher(), NewScratch()
	var res Result
	var out []string
	collect := func() { out = appendResults(out, &res) }
	restore := func() {
		snap, list := exportList(m)
		copies := make([]*event.Event, len(list))
		for j, e := range list {
			copies[j] = e.Clone()
		}
		r, err := prog.Import(snap, copies)
		if err != nil {
			t.Fatalf("import before event %d: %v", cut, err)
		}
		m = r
	}
	for i, ev := range evs {
		if i == cut {
			restore()
		}
		m.Advance(ev.Time, sc, &res)
		m.Process(ev, sc, &res)
		collect()
		if after != nil {
			after(i, m)
		}
	}
	if cut == len(evs) {
		restore()
	}
	m.Advance(math.MaxInt64, sc, &res)
	collect()
	return out
}
