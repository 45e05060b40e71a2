package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// groupRules aggregate by a field of many values (the kind): groups past the scan
// (smallIndex, their map built and logged) and past the cap (velocity.MaxGroups, the
// oldest group dropped as a new one comes), each function in its own window, and
// several aggregates of a key on one log.
var groupRules = []string{`
id: by-kind
aggregates:
  - {name: n, function: count, window: 40s, by: kind}
  - {name: total, function: sum, field: amount, window: 20s, by: kind}
  - {name: mean, function: avg, field: amount, where: e.amount > 2.0, window: 10s, by: kind}
  - {name: low, function: min, field: amount, window: 15s, by: kind}
  - {name: high, function: max, field: amount, window: 30s, by: kind}
  - {name: amounts, function: distinct, field: amount, window: 1m, by: kind}
  - {name: all, function: count, window: 5s}
pattern:
  - name: a
    where: agg.n >= 3
emit:
  n: agg.n
`}

// groupEvents makes n events over keys cards whose kinds come from pools of 3 to 400
// values (a key's pool by its number), in time order.
func groupEvents(seed uint64, keys, n int) ([]testEvent, []string) {
	r := rand.New(rand.NewPCG(seed, 11))
	pools := []int{3, 12, 40, 400}
	out := make([]testEvent, n)
	ts := int64(1_700_000_000_000)
	for i := range out {
		switch r.IntN(30) {
		case 0:
			ts += int64(r.IntN(50_000)) // a pause: windows and groups empty
		default:
			ts += 1 + int64(r.IntN(40)) // no two events at one time: their order would be the arrival's
		}
		k := r.IntN(keys)
		amt := float64(r.IntN(40)) / 4
		out[i] = testEvent{ID: fmt.Sprintf("e%d", i), Card: fmt.Sprintf("c%d", k), TS: ts,
			Kind: fmt.Sprintf("k%d", r.IntN(pools[k%len(pools)])), Amount: amt}
	}
	kinds := make([]string, 400)
	for i := range kinds {
		kinds[i] = fmt.Sprintf("k%d", i)
	}
	return out, kinds
}

// TestVelocityGroupsRollbackAgainstInOrder: as TestVelocityRollbackAgainstInOrder, over
// aggregates by a field of many values, so that re-matches roll back groups made, moved,
// dropped at the cap or by time, and reused from the free list, and the groups' map;
// every key's state is exported after each chunk (the log rolled back and put back).
func TestVelocityGroupsRollbackAgainstInOrder(t *testing.T) {
	rs := testRulesOf(t, groupRules...)
	for trial := range 4 {
		ooo := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 10 * time.Second}[trial]
		evs, kinds := groupEvents(uint64(40+trial), 4+trial, 6000)
		r := rand.New(rand.NewPCG(uint64(trial), 78))
		shuffled := arriveWithin(evs, r, ooo)
		// with a journal of a few events, pairs of a key's events swapped (none late)
		swapped := swapWithinKey(evs, r, ooo)
		name := fmt.Sprintf("trial %d (out-of-orderness %v)", trial, ooo)
		for _, maxJ := range []int{0, 2} {
			cfg := Config{Shards: 1, OutOfOrderness: ooo, MaxJournal: maxJ}
			if maxJ > 0 {
				shuffled = swapped
			}
			end := evs[len(evs)-1].TS
			inOrder := cfg
			inOrder.MaxJournal = 0
			want, _ := velocityProbesOf(t, rs, inOrder, evs, end, false, kinds, nopDLQ{})
			got, st := velocityProbesOf(t, rs, cfg, shuffled, end, true, kinds, nopDLQ{})
			if st.Rematched == 0 || st.Late != 0 {
				t.Fatalf("%s, journal %d: %d re-matched, %d late: the test does not test what it should", name, maxJ, st.Rematched, st.Late)
			}
			for k, w := range want {
				if g := got[k]; !slices.Equal(g, w) {
					for i := range w {
						if i < len(g) && g[i] != w[i] {
							t.Fatalf("%s, journal %d, %d re-matched: key %s reads %s, in order %s", name, maxJ, st.Rematched, k, g[i], w[i])
						}
					}
					t.Fatalf("%s, journal %d: key %s reads %d values, in order %d", name, maxJ, k, len(g), len(w))
				}
			}
		}
	}
}

// TestVelocityGroupsRestoreMidJournal: as TestVelocityRestoreMidJournalAgainstInOrder,
// over aggregates by a field of many values: the bases exported mid-journal (groups
// rolled back, their map and list included) and restored, the journals replayed from
// the decoded groups.
func TestVelocityGroupsRestoreMidJournal(t *testing.T) {
	rs := testRulesOf(t, groupRules...)
	for trial := range 3 {
		evs, kinds := groupEvents(uint64(60+trial), 4+trial, 3000)
		restoreMidJournalAgainstInOrder(t, rs, trial, evs, kinds)
	}
}

// TestVelocityGroupsBudgetFoldMidJournal: a memory budget under what the keys' journals
// and velocity logs take folds journals as they grow (their events re-matched up to then,
// later ones behind the key's newest dead-lettered as late): every key's aggregates then
// read what the events not dead-lettered give matched in order.
func TestVelocityGroupsBudgetFoldMidJournal(t *testing.T) {
	rs := testRulesOf(t, groupRules...)
	for trial := range 3 {
		ooo := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}[trial]
		evs, kinds := groupEvents(uint64(80+trial), 3+trial, 5000)
		r := rand.New(rand.NewPCG(uint64(trial), 79))
		shuffled := arriveWithin(evs, r, ooo)
		end := evs[len(evs)-1].TS
		dlq := &dlqCollector{}
		got, st := velocityProbesOf(t, rs, Config{Shards: 1, OutOfOrderness: ooo, MemoryBudget: 128 << 10}, shuffled, end, false, kinds, dlq)
		late := map[string]bool{}
		for _, d := range dlq.all {
			late[shuffled[d.Offset].ID] = true // records: an event's offset is its place
		}
		if st.Rematched == 0 || st.Late == 0 || uint64(len(late)) != st.Late {
			t.Fatalf("trial %d: %d re-matched, %d late (%d dead-lettered): the test does not test what it should", trial, st.Rematched, st.Late, len(late))
		}
		var kept []testEvent
		for _, e := range evs {
			if !late[e.ID] {
				kept = append(kept, e)
			}
		}
		want, _ := velocityProbesOf(t, rs, Config{Shards: 1, OutOfOrderness: ooo}, kept, end, false, kinds, nopDLQ{})
		for k, w := range want {
			if g := got[k]; !slices.Equal(g, w) {
				for i := range w {
					if i < len(g) && g[i] != w[i] {
						t.Fatalf("trial %d, %d late: key %s reads %s, in order without the late events %s", trial, st.Late, k, g[i], w[i])
					}
				}
				t.Fatalf("trial %d: key %s reads %d values, in order %d", trial, k, len(g), len(w))
			}
		}
	}
}

// groupMatchRules match on aggregates by a field whose windows are shorter than the
// out-of-orderness: a value an event reads while its key re-matches (groups expired by a
// read, dropped, made again) decides whether it alerts.
var groupMatchRules = []string{`
id: kind-twice
aggregates:
  - {name: n, function: count, window: 3s, by: kind}
pattern:
  - name: a
    where: agg.n == 2
`, `
id: kind-dear
aggregates:
  - {name: mean, function: avg, field: amount, where: e.amount > 2.0, window: 2s, by: kind}
pattern:
  - name: a
    where: agg.mean > 6.0
`, `
id: kind-amounts
aggregates:
  - {name: amounts, function: distinct, field: amount, window: 4s, by: kind}
  - {name: low, function: min, field: amount, window: 2s, by: kind}
  - {name: high, function: max, field: amount, where: e.amount < 9.0, window: 1s, by: kind}
pattern:
  - name: a
    where: agg.amounts == 3 && agg.low < 2.0 || agg.high > 8.0
`}

// TestVelocityGroupsAlertsAnyOrder: as TestVelocitySameAlertsAnyOrder, over rules that
// match on aggregates by a field of many values: every alert of the in-order run is
// delivered when the events arrive out of order (re-matched), and the others are those
// counted as superseded. A roll-back that leaves a group's window other than it was shows
// as a value an event reads while its key re-matches, and so as an alert missing.
func TestVelocityGroupsAlertsAnyOrder(t *testing.T) {
	rs := testRulesOf(t, groupMatchRules...)
	for trial := range 4 {
		ooo := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second, 10 * time.Second}[trial]
		evs, _ := groupEvents(uint64(120+trial), 3+trial, 5000)
		for i := range evs { // kinds of the small pools mostly: groups seen again within the windows
			if i%3 != 0 {
				evs[i].Kind = fmt.Sprintf("k%d", i%4)
			}
		}
		want, _, _ := run(t, rs, Config{Shards: 1, OutOfOrderness: ooo}, records(evs), 100)
		r := rand.New(rand.NewPCG(uint64(trial), 81))
		shuffled := arriveWithin(evs, r, ooo)
		got, _, st := run(t, rs, Config{Shards: 1, OutOfOrderness: ooo}, records(shuffled), 100)
		if st.Rematched == 0 || st.Late != 0 || len(want) == 0 {
			t.Fatalf("trial %d: %d re-matched, %d late, %d alerts: the test does not test what it should", trial, st.Rematched, st.Late, len(want))
		}
		gotIDs, wantIDs := lineIDs(t, got), lineIDs(t, want)
		if missing := multisetMinus(wantIDs, gotIDs); len(missing) > 0 {
			t.Fatalf("trial %d (out-of-orderness %v): %d of %d alerts of the in-order run missing, e.g. %s", trial, ooo, len(missing), len(wantIDs), missing[0])
		}
		if extra := multisetMinus(gotIDs, wantIDs); uint64(len(extra)) != st.Superseded {
			t.Fatalf("trial %d: %d extra alerts, %d counted as superseded", trial, len(extra), st.Superseded)
		}
	}
}
