package engine

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/velocity"
)

// TestVelocityRollbackAgainstInOrder: keys whose events arrive out of order (within the
// out-of-orderness) start journals, re-match (the velocity state rolled back to the base
// and replayed) and fold their oldest events into the base (the log's oldest segments
// forgotten); checkpoints export the base (the log rolled back and put back). Whatever
// the arrival order, each key's aggregates must then read what the same events matched
// in order give: every aggregate of every rule, for each group, at the stream's end.
// A roll-back that restores too little or too much, a segment forgotten at the wrong
// place, or a base export that does not put the changes back, shows up as other values.
func TestVelocityRollbackAgainstInOrder(t *testing.T) {
	// few keys: windows of many entries, journals of several events
	rollbackTrials{seed: 300, events: 4000, arrive: arriveWithin, arriveSeed: 77}.run(t)
}

// checkAsInOrder checks that every key's velocity aggregates read the same at the
// stream's end (velocityProbes) when evs arrive as shuffled under cfg, exporting every
// key's state after each chunk, as when they arrive in order under cfg without its
// journal bound; and that shuffled re-matched some events and had none late.
func checkAsInOrder(t *testing.T, name string, rs *RuleSet, cfg Config, evs, shuffled []testEvent) {
	t.Helper()
	end := evs[len(evs)-1].TS
	inOrder := cfg
	inOrder.MaxJournal = 0
	want, _ := velocityProbes(t, rs, inOrder, evs, end, false)
	got, st := velocityProbes(t, rs, cfg, shuffled, end, true)
	if st.Rematched == 0 || st.Late != 0 {
		t.Fatalf("%s: %d re-matched, %d late: the test does not test what it should", name, st.Rematched, st.Late)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d keys with velocity state, want %d", name, len(got), len(want))
	}
	for k, w := range want {
		if g := got[k]; !slices.Equal(g, w) {
			t.Fatalf("%s, %d re-matched: key %s reads\n%v\nin order\n%v", name, st.Rematched, k, g, w)
		}
	}
}

// velocityProbes matches evs in chunks, exporting every key's state after each chunk
// when export is set, and returns per key the value of each aggregate of each rule, for
// each group (the event kinds), at time end; and the engine's stats.
func velocityProbes(t *testing.T, rs *RuleSet, cfg Config, evs []testEvent, end int64, export bool) (map[string][]string, Snapshot) {
	t.Helper()
	return velocityProbesOf(t, rs, cfg, evs, end, export, probeKinds, nopDLQ{})
}

// probeKinds are the groups velocityProbes reads: the kinds genEvents makes.
var probeKinds = []string{"auth", "capture", "refund", "login"}

// velocityProbesOf is velocityProbes reading the groups kinds, dead letters to dlq.
func velocityProbesOf(t *testing.T, rs *RuleSet, cfg Config, evs []testEvent, end int64, export bool, kinds []string, dlq DeadLetterSink) (map[string][]string, Snapshot) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, err := New(cfg, rs, nopSink{}, dlq)
	if err != nil {
		t.Fatal(err)
	}
	eng.Start(ctx)
	defer eng.Close()
	recs := records(evs)
	for i := 0; i < len(recs); i += 97 {
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+97, len(recs))]); err != nil {
			t.Fatal(err)
		}
		if export {
			if err := eng.onShards(ctx, func(s *shard) {
				for _, ks := range s.list {
					s.exportKey(ks)
				}
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	return readVelocityProbes(t, ctx, eng, end, kinds), eng.Stats().Snapshot()
}

// readVelocityProbes returns per key of eng the value of each aggregate of each rule, for
// each group (the event kinds), at time end (velocityProbes).
func readVelocityProbes(t *testing.T, ctx context.Context, eng *Engine, end int64, kinds []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if err := eng.onShards(ctx, func(s *shard) {
		p := s.velocity()
		for _, ks := range s.list {
			s.current(ks) // a key not seen since a rule swap is still laid out by its old rules
			var vals []string
			for ri, aggs := range p.aggs {
				for j, g := range aggs {
					for _, kind := range kinds {
						a := velocity.New(g.Spec)
						if ks.vel != nil && ks.vel.aggs[int(p.lay.off[ri])+j] != nil {
							a = ks.vel.aggs[int(p.lay.off[ri])+j].Clone()
						}
						x, ok := a.Value(end, velocity.Key{S: kind, Kind: uint8(event.KindString)})
						vals = append(vals, fmt.Sprintf("%s.%d/%s=%v,%v", s.rules.Rules[ri].Rule.ID, j, kind, x, ok))
						if !g.Spec.By {
							break
						}
					}
				}
			}
			out[ks.key] = vals
		}
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
