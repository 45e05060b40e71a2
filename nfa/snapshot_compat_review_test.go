package nfa

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"

	"github.com/cepd/cepd/event"
)

// compatFixture is testdata/snapshots-b55f6d2.json.gz (gzipped JSON): matchers' snapshots exported by cepd
// at b55f6d2 (runs of 48 bytes, each keeping its own start time) in the middle of random
// patterns' streams, and what that build matched from each snapshot on.
const compatFixture = "testdata/snapshots-b55f6d2.json.gz"

type compatCut struct {
	At     int       // events processed before the snapshot
	Snap   *Snapshot // Export at that point
	EvSeqs []uint64  // the snapshot's event list, by sequence number in the stream
	Rest   []string  // the old build's results from the import on (then the stream's end)
}

type compatCase struct {
	Seed int
	Cuts []compatCut
}

// compatStream is seed's random pattern (fuzzPattern: optional and looping first steps,
// stops, untils, both window types, every skip strategy), compiled, with the scratch's
// budget (for half the seeds one small enough to cut runs, by count, entries and digits:
// not by bytes, which the run size sets) and its event stream.
func compatStream(seed int) (*Program, Budget, []*event.Event, error) {
	r := rand.New(rand.NewPCG(uint64(seed), 16))
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	fb := &fuzzBytes{b: b}
	prog, err := Compile(fuzzPattern(fb), letterResolve, Options{Timeouts: true, MaxRuns: 64})
	if err != nil {
		return nil, Budget{}, nil, err
	}
	var bud Budget
	if r.IntN(2) == 0 {
		bud = Budget{Runs: 2 + r.IntN(12), Nodes: 4 + r.IntN(30), Digits: 20 + 10*r.IntN(20)}
	}
	evs := make([]*event.Event, 80)
	ts := int64(0)
	for i := range evs {
		ts += int64(r.IntN(4))
		name := string(rune('a' + r.IntN(5)))
		evs[i] = (&event.Event{Seq: uint64(i + 1), Time: ts, Schema: benchSchema}).
			SetValues([]event.Value{event.String(name), event.String("k"), event.Int(ts)})
	}
	return prog, bud, evs, nil
}

// compatRun feeds evs[from:] to m (then advances it to the end of time) and returns its
// results, the events by sequence number.
func compatRun(m *Matcher, bud Budget, evs []*event.Event, from int) []string {
	sc := NewScratch()
	sc.Budget = bud
	var res Result
	var out []string
	collect := func() {
		for _, mt := range res.Matches {
			out = append(out, "match "+compatMatch(mt))
		}
		for _, to := range res.Timeouts {
			out = append(out, "timeout "+compatMatch(to.Match))
		}
		res.Reset()
	}
	compatFeed(m, sc, &res, evs[from:], collect)
	m.Advance(math.MaxInt64, sc, &res)
	collect()
	return out
}

// compatFeed advances m to each event of evs and gives it the event, then calls each.
func compatFeed(m *Matcher, sc *Scratch, res *Result, evs []*event.Event, each func()) {
	for _, ev := range evs {
		m.Advance(ev.Time, sc, res)
		m.Process(ev, sc, res)
		each()
	}
}

func compatMatch(m Match) string {
	s := ""
	for _, st := range m.Steps {
		s += st.Step + ":"
		for _, e := range st.Events {
			s += fmt.Sprint(e.Seq) + ","
		}
	}
	return s
}

// compatCuts are the points of a stream where the fixture's snapshots are taken.
var compatCuts = []int{3, 11, 25, 40, 57, 79}

// TestSnapshotsFromB55f6d2Restore: snapshots a matcher exported at b55f6d2 (before runs
// dropped their own start time, run.startTs) import now, for random patterns whose
// streams pass through every kind of run state (budget cuts, window prunes, timeouts,
// stop and until steps, optional and looping first steps, after-match skips), and the
// imported matchers then match exactly what b55f6d2's did. It catches an Import check
// that refuses a state an older cepd wrote (e.g. requiring StartTs == the first event's
// time where a run's stored start time was another) and any change in the order or
// windows of runs read back from their first events. COMPAT_WRITE=1 rewrites the fixture
// (run it in a tree at b55f6d2, with this file copied in).
func TestSnapshotsFromB55f6d2Restore(t *testing.T) {
	const seeds = 300
	if os.Getenv("COMPAT_WRITE") != "" {
		writeCompatFixture(t, seeds)
		return
	}
	cases := readCompatFixture(t)
	if len(cases) < seeds/2 {
		t.Fatalf("%d cases in the fixture: weak test", len(cases))
	}
	runs, starts := 0, 0
	for _, c := range cases {
		prog, bud, evs, err := compatStream(c.Seed)
		if err != nil {
			t.Fatalf("seed %d: %v (compiled at b55f6d2)", c.Seed, err)
		}
		for _, cut := range c.Cuts {
			list := make([]*event.Event, len(cut.EvSeqs))
			for j, seq := range cut.EvSeqs {
				list[j] = evs[seq-1].Clone() // as a checkpoint gives them back: copies
			}
			for _, rs := range cut.Snap.Partial {
				runs++
				if rs.StartEv < 0 {
					starts++
				}
			}
			m, err := prog.Import(cut.Snap, list)
			if err != nil {
				t.Fatalf("seed %d, snapshot after %d events: b55f6d2's snapshot does not import: %v", c.Seed, cut.At, err)
			}
			if got := compatRun(m, bud, evs, cut.At); !reflect.DeepEqual(got, cut.Rest) {
				t.Fatalf("seed %d, resumed after %d events:\n got %q\nwant %q (b55f6d2)", c.Seed, cut.At, got, cut.Rest)
			}
		}
	}
	if runs == starts {
		t.Fatal("no run past the start state in the fixture: weak test")
	}
	t.Logf("%d cases, %d runs (%d in the start state)", len(cases), runs, starts)
}

// writeCompatFixture writes compatFixture from the matchers of this build (run at b55f6d2).
func writeCompatFixture(t *testing.T, seeds int) {
	var cases []compatCase
	for seed := range seeds {
		prog, bud, evs, err := compatStream(seed)
		if err != nil {
			continue
		}
		c := compatCase{Seed: seed}
		for _, at := range compatCuts {
			m := prog.NewMatcher()
			sc := NewScratch()
			sc.Budget = bud
			var res Result
			compatFeed(m, sc, &res, evs[:at], res.Reset)
			snap, list := exportList(m)
			if _, err := prog.Import(snap, list); err != nil {
				// b55f6d2 refuses it too: a matcher whose start run reached a stop
				// state (an optional first step before a notFollowedBy) holds none
				continue
			}
			cut := compatCut{At: at, Snap: snap}
			for _, e := range list {
				cut.EvSeqs = append(cut.EvSeqs, e.Seq)
			}
			cut.Rest = compatRun(m, bud, evs, at)
			c.Cuts = append(c.Cuts, cut)
		}
		cases = append(cases, c)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(cases); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(compatFixture, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readCompatFixture reads compatFixture.
func readCompatFixture(t *testing.T) []compatCase {
	raw, err := os.ReadFile(compatFixture)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", compatFixture, err)
	}
	var cases []compatCase
	if err := json.NewDecoder(zr).Decode(&cases); err != nil {
		t.Fatal(err)
	}
	return cases
}
