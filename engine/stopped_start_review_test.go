package engine

import (
	"encoding/json"
	"fmt"

	"github.com/cepd/cepd/alerts"
	"math"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/nfa"
)

// stoppedStartRule's start run can stop: the group's steps are both optional, so the
// start run reaches the notNext step at once, and a refund there sends it to the stop
// state (the start run goes with it, as in Flink), while runs that took an auth or a
// capture go on. (Found by a random search of the patterns Validate accepts.)
const stoppedStartRule = `
id: stops
within: 2s
skip: to_first:s5
pattern:
  - name: s1
    steps:
      - name: s2
        where: e.kind == 'auth'
        optional: true
      - name: s3
        contiguity: any
        where: e.kind == 'capture'
        optional: true
  - name: s4
    not: next
    where: e.kind == 'refund'
  - name: s5
    contiguity: any
    where: e.kind == 'login'
`

// TestReviewStoppedStartKeepsItsRun (fails before 4748070: key h4 gets 2 alerts, 1 wanted):
// the engine drops a key's matcher when it is Idle
// (matchRule, timers) and makes a fresh one for a later event. A matcher whose start
// run stopped (19b4778) and that holds one other run is not idle: dropping it loses the
// run and brings back a start run the matcher no longer has. Per key, the engine's
// alerts must be those of one matcher fed every event of the key (never dropped).
func TestReviewStoppedStartKeepsItsRun(t *testing.T) {
	rs := testRulesOf(t, stoppedStartRule)
	// Keys whose start run stops with one run left (an auth or a capture, another event,
	// then a refund: the start run stops, a run waiting for the login goes on), then a
	// random stream.
	var evs []testEvent
	ts := int64(1_600_000_000_000)
	for i, seq := range [][]string{
		{"auth", "capture", "refund", "login"},
		{"auth", "auth", "refund", "login"},
		{"capture", "auth", "refund", "login"},
		{"auth", "login", "refund", "login"},
		{"capture", "capture", "refund", "capture", "login"},
	} {
		for j, k := range seq {
			ts += 10
			evs = append(evs, testEvent{ID: fmt.Sprintf("h%d-%d", i, j), Card: fmt.Sprintf("h%d", i), TS: ts, Kind: k, Amount: 5})
		}
	}
	evs = append(evs, genEvents(53, 4, 4000)...)
	recs := records(evs)
	got, _, _ := run(t, rs, Config{Shards: 1}, recs, 50)
	perKey := map[string]int{}
	for _, l := range got {
		perKey[keyOfLine(t, l)]++
	}
	prog := rs.Rules[0].Program
	dec := jsondecode.NewDecoder(rs.Schema)
	ms := map[string]*nfa.Matcher{}
	sc := nfa.NewScratch()
	var res nfa.Result
	want := map[string]int{}
	for _, r := range recs {
		ev := new(event.Event)
		if err := dec.Decode(r.Value, ev); err != nil {
			t.Fatal(err)
		}
		k := string(ev.Key)
		m := ms[k]
		if m == nil {
			m = prog.NewMatcher()
			ms[k] = m
		}
		m.Advance(ev.Time, sc, &res)
		m.Process(ev, sc, &res)
		want[k] += len(res.Matches)
		res.Reset()
	}
	for k, m := range ms {
		m.Advance(math.MaxInt64, sc, &res)
		want[k] += len(res.Matches)
		res.Reset()
	}
	differ := 0
	for k, w := range want {
		if perKey[k] != w {
			differ++
			t.Logf("key %s: %d alerts, one matcher fed every event: %d", k, perKey[k], w)
		}
	}
	if differ > 0 {
		t.Fatalf("%d keys of %d get other alerts than one undropped matcher gives", differ, len(want))
	}
	if len(got) == 0 {
		t.Fatal("no alerts: the test tests nothing")
	}
	t.Logf("%d alerts", len(got))
}

// keyOfLine is the key of an alert line (alertLines).
func keyOfLine(t *testing.T, l string) string {
	t.Helper()
	var a alerts.Alert
	if err := json.Unmarshal([]byte(l), &a); err != nil {
		t.Fatal(err)
	}
	return a.Key
}
