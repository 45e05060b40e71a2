package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestVelocityUnloggedFirstEventAlerts checks, by the alerts, what
// TestVelocityUnloggedFirstEventAgainstInOrder checks by the aggregates: keys in bursts
// (most journals start from a key without velocity state, velJournal.none) arriving out
// of order within the out-of-orderness, under the velocity rules (both rearm policies:
// the holds a dropped live state must not lose), the journal unbounded and bounded to 1
// and 2 events. (1) Every alert of the same events in order is delivered, and the extra
// ones are counted as superseded. (2) Checkpointed and restored into a fresh engine
// (another shard count) at several places mid-stream, the alerts, aggregate values
// included, are those of one uninterrupted run: a checkpoint of a key whose journal
// started without state and has adopted its live state at its second event must export
// the base as empty, not as the live state after the first event (caught with
// velocitySection's `|| j.none` removed, as is a fold that leaves `none` set).
func TestVelocityUnloggedFirstEventAlerts(t *testing.T) {
	rs := velocityRuleSet(t)
	for trial := range 3 {
		evs := burstEvents(uint64(70+trial), 800)
		ooo := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}[trial]
		cfg := Config{Shards: 1, OutOfOrderness: ooo, MaxJournal: []int{0, 1, 2}[trial]}
		shuffled := swapWithinKey(evs, rand.New(rand.NewPCG(uint64(trial), 29)), ooo)
		name := fmt.Sprintf("trial %d (out-of-orderness %v, MaxJournal %d)", trial, ooo, cfg.MaxJournal)
		if n := unloggedJournals(t, rs, cfg, shuffled); n == 0 {
			t.Fatalf("%s: no journal of two events or more from a base without aggregates: the test does not test what it should", name)
		}

		want, _, _ := run(t, rs, Config{Shards: 1}, records(evs), 97)
		if len(want) < 50 {
			t.Fatalf("%s: %d alerts in order: the test data is too weak", name, len(want))
		}
		got, _, st := run(t, rs, cfg, records(shuffled), 97)
		if st.Rematched == 0 || st.Late != 0 {
			t.Fatalf("%s: %d re-matched, %d late: the test does not test what it should", name, st.Rematched, st.Late)
		}
		gotIDs, wantIDs := lineIDs(t, got), lineIDs(t, want)
		if missing := multisetMinus(wantIDs, gotIDs); len(missing) > 0 {
			t.Fatalf("%s: %d alerts of the in-order run missing, e.g. %s", name, len(missing), missing[0])
		}
		if extra := multisetMinus(gotIDs, wantIDs); uint64(len(extra)) != st.Superseded {
			t.Fatalf("%s: %d extra alerts, %d counted as superseded", name, len(extra), st.Superseded)
		}

		recs := records(shuffled)
		for _, cut := range []int{1000 + 37*trial, 2600, len(recs) - 300} {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			ccfg := cfg
			ccfg.Shards = 2
			before := checkpointEvery(t, ctx, dir, ccfg, rs, recs, cut, 300, nil)
			ccfg.Shards = 3
			after := resumeAfter(t, ctx, dir, ccfg, rs, recs)
			cancel()
			if !after.meta.Found || int(after.meta.Offset)+1 != cut || after.ckpt.Restored == 0 {
				t.Fatalf("%s, cut %d: restored %+v, %d keys", name, cut, after.meta, after.ckpt.Restored)
			}
			if lines := alertLines(append(before.alerts, after.alerts...)); !slices.Equal(lines, got) {
				t.Fatalf("%s, cut %d: %d alerts across the restart, want %d (first difference:\n%s\nuninterrupted:\n%s)", name, cut, len(lines), len(got), at(lines, firstDiff(lines, got)), at(got, firstDiff(lines, got)))
			}
		}
	}
}
