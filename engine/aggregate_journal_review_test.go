package engine

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

// TestVelocityRollbackBoundedJournal: as TestVelocityRollbackAgainstInOrder, with the
// journal bounded to a few events, so that most events fold the oldest ones into the
// base as they arrive (journal → foldOldest before the event's own velocity values are
// observed): the log's oldest segments are forgotten while the newest event has no
// segment yet, and re-matches roll back to a base moved that way.
func TestVelocityRollbackBoundedJournal(t *testing.T) {
	rollbackTrials{seed: 700, events: 3000, arrive: swapWithinKey, arriveSeed: 91, maxJournal: []int{1, 2, 5}}.run(t)
}

// rollbackTrials are six trials of checkAsInOrder over velocityRuleSet: genEvents(seed +
// trial, 3 + trial keys, events) arriving as arrive orders them (its random source seeded
// with trial and arriveSeed), the out-of-orderness 1.5 s, 3 s and 6 s in turn, and the
// journal bounded to maxJournal's events in turn (nil: not bounded).
type rollbackTrials struct {
	seed       uint64
	events     int
	arrive     func(evs []testEvent, r *rand.Rand, ooo time.Duration) []testEvent
	arriveSeed uint64
	maxJournal []int
}

func (c rollbackTrials) run(t *testing.T) {
	t.Helper()
	rs := velocityRuleSet(t)
	for trial := range 6 {
		cfg := Config{Shards: 1, OutOfOrderness: []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}[trial%3]}
		if c.maxJournal != nil {
			cfg.MaxJournal = c.maxJournal[trial%3]
		}
		evs := genEvents(c.seed+uint64(trial), 3+trial, c.events)
		shuffled := c.arrive(evs, rand.New(rand.NewPCG(uint64(trial), c.arriveSeed)), cfg.OutOfOrderness)
		name := fmt.Sprintf("trial %d (out-of-orderness %v, MaxJournal %d)", trial, cfg.OutOfOrderness, cfg.MaxJournal)
		checkAsInOrder(t, name, rs, cfg, evs, shuffled)
	}
}

// arriveWithin returns evs in the order they arrive when each comes up to nine tenths of
// ooo after its event time (r draws the delays): out of order, but none behind the
// watermark.
func arriveWithin(evs []testEvent, r *rand.Rand, ooo time.Duration) []testEvent {
	at := make(map[string]int64, len(evs))
	for _, e := range evs {
		at[e.ID] = e.TS + r.Int64N(ooo.Milliseconds()*9/10)
	}
	shuffled := slices.Clone(evs)
	sort.SliceStable(shuffled, func(i, j int) bool { return at[shuffled[i].ID] < at[shuffled[j].ID] })
	return shuffled
}

// swapWithinKey returns evs (in time order) with some pairs of a key's consecutive
// events arriving the other way round: the older one comes where the newer one was, at
// most four tenths of ooo later (under half the out-of-orderness, so that no event is
// behind the watermark however the others moved). Every such event is then older than
// its key's newest by one event only, so that a journal of even one event keeps it
// re-matchable.
func swapWithinKey(evs []testEvent, r *rand.Rand, ooo time.Duration) []testEvent {
	within := ooo.Milliseconds() * 4 / 10
	out := slices.Clone(evs)
	pos := map[string][]int{}
	for i, e := range evs {
		pos[e.Card] = append(pos[e.Card], i)
	}
	keys := make([]string, 0, len(pos))
	for k := range pos {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ps := pos[k]
		for j := 0; j+1 < len(ps); j++ {
			a, b := ps[j], ps[j+1]
			if d := evs[b].TS - evs[a].TS; d > 0 && d < within && r.IntN(3) == 0 {
				out[a], out[b] = out[b], out[a]
				j++
			}
		}
	}
	return out
}

// TestVelocityRestoreMidJournalAgainstInOrder: keys out of order within the
// out-of-orderness are checkpointed while they have journals (the base exported by
// rolling the log back and putting it back), and restored into a fresh engine several
// times over the stream; each restore replays the journals from the restored bases,
// and the events after it re-match from those. At the end every key's aggregates read
// what the events matched in order give.
func TestVelocityRestoreMidJournalAgainstInOrder(t *testing.T) {
	rs := velocityRuleSet(t)
	for trial := range 3 {
		restoreMidJournalAgainstInOrder(t, rs, trial, genEvents(uint64(900+trial), 4+trial, 3000), probeKinds)
	}
}

// restoreMidJournalAgainstInOrder is one trial of TestVelocityRestoreMidJournalAgainstInOrder
// over evs (at least 2000, in time order), reading the groups kinds.
func restoreMidJournalAgainstInOrder(t *testing.T, rs *RuleSet, trial int, evs []testEvent, kinds []string) {
	t.Helper()
	ooo := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}[trial]
	shuffled := swapWithinKey(evs, rand.New(rand.NewPCG(uint64(trial), 93)), ooo)
	end := evs[len(evs)-1].TS
	want, _ := velocityProbesOf(t, rs, Config{Shards: 1, OutOfOrderness: ooo}, evs, end, false, kinds, nopDLQ{})

	recs := records(shuffled)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	from, rematched := 0, uint64(0)
	cuts := []int{400 + 37*trial, 1100, 1900 - 11*trial, len(recs)}
	var got map[string][]string
	for i, cut := range cuts {
		store := openStore(t, dir)
		eng := startCheckpointed(t, ctx, store, Config{Shards: 1 + i%2, OutOfOrderness: ooo}, rs, nopSink{}, nopDLQ{})
		meta, err := eng.Restore(ctx, 0, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && (!meta.Found || int(meta.Offset)+1 != from) {
			t.Fatalf("trial %d: restore %d resumes from %v, want %d", trial, i, meta, from)
		}
		for j := from; j < cut; j += 97 {
			if _, err := eng.Ingest(ctx, 0, recs[j:min(j+97, cut)]); err != nil {
				t.Fatal(err)
			}
		}
		if err := eng.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		st := eng.Stats().Snapshot()
		rematched += st.Rematched
		if st.Late != 0 {
			t.Fatalf("trial %d: %d late: the test does not test what it should", trial, st.Late)
		}
		if cut == len(recs) {
			got = readVelocityProbes(t, ctx, eng, end, kinds)
		} else if err := eng.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		eng.Close()
		store.Close()
		from = cut
	}
	cancel()
	if rematched == 0 {
		t.Fatalf("trial %d: nothing re-matched: the test does not test what it should", trial)
	}
	if len(got) != len(want) {
		t.Fatalf("trial %d: %d keys with velocity state, want %d", trial, len(got), len(want))
	}
	for k, w := range want {
		if g := got[k]; !slices.Equal(g, w) {
			t.Fatalf("trial %d (out-of-orderness %v): key %s reads\n%v\nin order\n%v", trial, ooo, k, g, w)
		}
	}
}

// TestVelocitySpareLogsBounded: the velocity logs and bases of journals that ended are
// kept for reuse (up to maxSpareBases of each a shard), each only when small: after keys
// with journals of tens to hundreds of events (velocity rules of many aggregates) end
// them, no spare log keeps more than keepLog bytes, nor any spare base's record of the
// values its journal's events saw.
func TestVelocitySpareLogsBounded(t *testing.T) {
	rs := velocityRuleSet(t)
	var evs []testEvent
	ts := int64(1_700_000_000_000)
	for i := range 600 {
		for k := range 12 {
			if i < 30+50*k {
				evs = append(evs, testEvent{ID: fmt.Sprintf("e%d-%d", k, i), Card: fmt.Sprintf("c%d", k), TS: ts, Kind: []string{"auth", "capture", "refund", "login"}[(i+k)%4], Amount: float64(1 + i%7)})
			}
		}
		ts += 3
	}
	// a later event moves the watermark past every journal: they end
	evs = append(evs, testEvent{ID: "last", Card: "other", TS: ts + 60_000, Kind: "login", Amount: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := New(Config{Shards: 1, OutOfOrderness: 10 * time.Second}, rs, nopSink{}, nopDLQ{})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start(ctx)
	defer eng.Close()
	recs := records(evs)
	ingestChunks(t, ctx, eng, recs)
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	logs, bases := 0, 0
	if err := eng.onShards(ctx, func(s *shard) {
		for _, ks := range s.list {
			if len(ks.pending()) > 0 && ks.key != "other" {
				t.Errorf("key %s still has a journal of %d events", ks.key, len(ks.pending()))
			}
		}
		p := s.velocity()
		for _, u := range p.logs {
			logs++
			if f := u.Footprint(); f > keepLog {
				t.Errorf("a spare log keeps %d KiB", f>>10)
			}
		}
		for _, b := range p.bases {
			bases++
			if f := b.jour.footprint(); f > keepLog {
				t.Errorf("a spare base keeps %d KiB", f>>10)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if logs == 0 || bases == 0 {
		t.Fatalf("%d spare logs, %d spare bases: the test does not test what it should", logs, bases)
	}
}

// TestVelocityReloadMidJournal: rule sets swapped while keys have journals (the velocity
// state logged, aggregates shared with the rebound state; a velocity rule added, so the
// layout changes, and removed again), with events re-matched before and after each swap:
// the aggregates of the rules kept read what one run without swaps gives, the swaps
// making no event late (the arrivals are out of order only within the key's journal
// after each swap).
func TestVelocityReloadMidJournal(t *testing.T) {
	base := velocityRuleSet(t)
	// extra-velocity sorts amid the others: the rules before it keep their index and the
	// layout's start, those after it move (TestReloadMovedVelocityRules moves them all).
	extra := testRulesOf(t, append(append([]string{`
id: extra-velocity
aggregates:
  - {name: c, function: count, window: 10s}
  - {name: d, function: distinct, field: amount, window: 10s}
pattern:
  - name: a
    where: e.kind == 'refund' && agg.c > 3.0
`}, velocityRules...), testRules...)...)
	for trial := range 3 {
		ooo := 3 * time.Second
		evs := genEvents(uint64(1100+trial), 4+trial, 3000)
		cuts := []int{700, 1400, 2100}
		// out of order only within each stretch between swaps (a swap folds journals)
		var shuffled []testEvent
		from := 0
		for i, c := range append(cuts, len(evs)) {
			shuffled = append(shuffled, swapWithinKey(evs[from:c], rand.New(rand.NewPCG(uint64(trial), uint64(i))), ooo)...)
			from = c
		}
		end := evs[len(evs)-1].TS
		want, _ := velocityProbes(t, base, Config{Shards: 1, OutOfOrderness: ooo}, evs, end, false)

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		eng, err := New(Config{Shards: 1, OutOfOrderness: ooo}, base, nopSink{}, nopDLQ{})
		if err != nil {
			t.Fatal(err)
		}
		eng.Start(ctx)
		recs := records(shuffled)
		from = 0
		for i, c := range append(cuts, len(recs)) {
			for j := from; j < c; j += 97 {
				if _, err := eng.Ingest(ctx, 0, recs[j:min(j+97, c)]); err != nil {
					t.Fatal(err)
				}
			}
			from = c
			if i < len(cuts) {
				if _, err := eng.SwapRules(ctx, []*RuleSet{extra, base, extra}[i]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := eng.SwapRules(ctx, base); err != nil { // the rules probed
			t.Fatal(err)
		}
		if err := eng.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		st := eng.Stats().Snapshot()
		got := readVelocityProbes(t, ctx, eng, end, probeKinds)
		eng.Close()
		cancel()
		if st.Rematched == 0 || st.Late != 0 {
			t.Fatalf("trial %d: %d re-matched, %d late: the test does not test what it should", trial, st.Rematched, st.Late)
		}
		for k, w := range want {
			if g := got[k]; !slices.Equal(g, w) {
				t.Fatalf("trial %d: key %s reads\n%v\nwithout swaps\n%v", trial, k, g, w)
			}
		}
	}
}
