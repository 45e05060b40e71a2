package engine

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// TestVelocityUnloggedFirstEventAgainstInOrder: a journal whose base has no velocity
// aggregates (velJournal.none) matches its first event without a log and adopts the live
// state at its second; a re-match drops the live state instead of rolling it back, a fold
// makes the base what the log rolls back to (or the unlogged live state itself, when the
// journal is bounded and folds before its newest event is observed), and a checkpoint
// exports the base as empty. Keys here come in bursts a few seconds long, each key's
// first (and, after its windows emptied, its second) starting from no state, arriving
// out of order within the out-of-orderness, with the journal unbounded and bounded to 1
// and 2 events, and checkpointed and restored mid-stream: every key's aggregates must
// read what the same events matched in order give. Each fails when a re-match rolls the
// log back to the second event instead of dropping the state, when a fold leaves the
// unlogged state unadopted, or when a checkpoint exports the rolled-back log.
func TestVelocityUnloggedFirstEventAgainstInOrder(t *testing.T) {
	rs := velocityRuleSet(t)
	for trial := range 3 {
		evs := burstEvents(uint64(40+trial), 300+50*trial)
		ooo := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}[trial]
		cfg := Config{Shards: 1, OutOfOrderness: ooo, MaxJournal: []int{0, 1, 2}[trial]}
		arrive := arriveWithin
		if cfg.MaxJournal > 0 { // a bounded journal makes events behind its newest few late
			arrive = swapWithinKey
		}
		shuffled := arrive(evs, rand.New(rand.NewPCG(uint64(trial), 17)), ooo)
		if n := unloggedJournals(t, rs, cfg, shuffled); n == 0 {
			t.Fatalf("trial %d: no journal of two events or more from a base without aggregates: the test does not test what it should", trial)
		}
		checkAsInOrder(t, fmt.Sprintf("trial %d (out-of-orderness %v, MaxJournal %d)", trial, ooo, cfg.MaxJournal), rs, cfg, evs, shuffled)
		restoreMidJournalAgainstInOrder(t, rs, trial, evs, probeKinds)
	}
}

// burstEvents returns the events of keys keys in time order: every other key has a burst
// of 2–5 events in the first 40 s, then, after every window emptied, every key a burst
// of 3–8 in the last 12 s (so that the state they leave is in every window at the end),
// its events 100–700 ms apart.
func burstEvents(seed uint64, keys int) []testEvent {
	r := rand.New(rand.NewPCG(seed, 11))
	kinds := []string{"auth", "auth", "auth", "capture", "refund", "login"}
	var out []testEvent
	burst := func(card string, from int64, n int) {
		ts := from
		for range n {
			amt := []float64{1, 2.5, 4, 50, 120, 800}[r.IntN(6)]
			out = append(out, testEvent{Card: card, TS: ts, Kind: kinds[r.IntN(len(kinds))], Amount: amt})
			ts += 100 + r.Int64N(600)
		}
	}
	t0 := int64(1_700_000_000_000)
	for k := range keys {
		card := fmt.Sprintf("c%d", k)
		if k%2 == 0 {
			burst(card, t0+r.Int64N(40_000), 2+r.IntN(4))
		}
		burst(card, t0+240_000+r.Int64N(12_000), 3+r.IntN(6))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS < out[j].TS })
	for i := range out {
		out[i].ID = fmt.Sprintf("e%d", i)
	}
	return out
}

// unloggedJournals matches evs under cfg and counts, after each chunk, the keys whose
// journal has two events or more from a base without aggregates, with a live state.
func unloggedJournals(t *testing.T, rs *RuleSet, cfg Config, evs []testEvent) int {
	t.Helper()
	eng, ctx, stop := startEngine(t, cfg, rs, nopSink{}, nopDLQ{})
	defer stop()
	recs := records(evs)
	n := 0
	for i := 0; i < len(recs); i += 13 {
		ingestFlush(t, ctx, eng, recs[i:min(i+13, len(recs))])
		if err := eng.onShards(ctx, func(s *shard) {
			for _, ks := range s.list {
				if b := ks.velBase(); b != nil && b.jour.none && len(ks.pending()) >= 2 && ks.vel != nil {
					n++
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	return n
}
