package engine

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/velocity"
)

// TestSpareAggregatesUnshared: aggregates freed by expiry wait in their shard's layout
// for reuse (velLayout.free, take). While one waits, nothing of a key may reach it: not
// a key's live aggregates, nor its base's (what its journal's log rolls back to), and
// no aggregate is two keys' at once; every spare is empty. Events arrive out of order
// within the out-of-orderness (journals, re-matches, logs), the check runs after every
// chunk, and spares must be taken again (else the test tests nothing). The values the
// reused aggregates give are checked against the same events in order as well.
func TestSpareAggregatesUnshared(t *testing.T) {
	// a key's events ~30 s apart: its windows (20 s–2 min) empty and refill; ~8 s apart
	for _, keys := range []int{150, 40} {
		checkSpares(t, genEvents(41, keys, 6000))
	}
}

// checkSpares is TestSpareAggregatesUnshared on the events evs.
func checkSpares(t *testing.T, evs []testEvent) {
	rs := velocityRuleSet(t)
	cfg := Config{Shards: 2, OutOfOrderness: 3 * time.Second}
	shuffled := arriveWithin(evs, rand.New(rand.NewPCG(5, 6)), cfg.OutOfOrderness)
	waited := map[*velocity.Agg]bool{} // spares seen so far
	reused, journals := 0, 0
	ingestChecked(t, rs, cfg, records(shuffled), func(s *shard) (bad string) {
		owner := map[*velocity.Agg]string{}
		for _, ks := range s.list {
			for _, a := range keyAggregates(ks) {
				if o, ok := owner[a]; ok && o != ks.key {
					bad = "an aggregate is both " + o + "'s and " + ks.key + "'s"
				}
				owner[a] = ks.key
				if waited[a] {
					reused++
					delete(waited, a)
				}
			}
			if ks.velBase() != nil {
				journals++
			}
		}
		if sb := spareFault(s, owner, func(a *velocity.Agg) { waited[a] = true }); sb != "" {
			bad = sb
		}
		return bad
	})
	if reused == 0 || journals == 0 {
		t.Fatalf("%d spares reused, %d journals seen: the test does not test what it should", reused, journals)
	}
	checkAsInOrder(t, "spares", rs, cfg, evs, shuffled)
}

// ingestChecked runs an engine of rs under cfg on recs, 13 at a time, and after each
// chunk asks check of every shard: what it answers (not empty) fails the test.
func ingestChecked(t *testing.T, rs *RuleSet, cfg Config, recs []Record, check func(s *shard) string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, err := New(cfg, rs, nopSink{}, nopDLQ{})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start(ctx)
	defer eng.Close()
	for i := 0; i < len(recs); i += 13 {
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+13, len(recs))]); err != nil {
			t.Fatal(err)
		}
		var bad string
		if err := eng.onShards(ctx, func(s *shard) {
			if b := check(s); b != "" {
				bad = b
			}
		}); err != nil {
			t.Fatal(err)
		}
		if bad != "" {
			t.Fatalf("after %d events: %s", i, bad)
		}
	}
}

// keyAggregates lists every aggregate the key ks can reach: its live ones and, while it
// has a journal, those its log rolls back to.
func keyAggregates(ks *keyState) []*velocity.Agg {
	var out []*velocity.Agg
	add := func(kv *keyVelocity) {
		for _, a := range kv.aggs {
			if a != nil {
				out = append(out, a)
			}
		}
	}
	if ks.vel != nil {
		add(ks.vel)
	}
	if b := ks.velBase(); b != nil && b.jour != nil && b.jour.live != nil {
		j := b.jour
		add(j.live)
		if j.log != nil {
			j.log.AtStart(func() { add(j.live) })
		}
	}
	return out
}

// TestExpireKeepsLoggedAggregates: an aggregate that expiry drops while the key's
// changes are logged (it has a journal) is not kept for reuse: rolling the log back puts
// it back, whole; one dropped without a log is kept, empty, and taken for the same
// aggregate only.
func TestExpireKeepsLoggedAggregates(t *testing.T) {
	spec := velocity.Spec{Func: velocity.Sum, Window: 100}
	lay := newVelLayout([][]*rules.Aggregate{{{Spec: spec}}}, []int64{0})
	kv := newKeyVelocity(lay)
	a := lay.take(0, spec)
	a.Add(10, velocity.Key{}, 5, velocity.Key{})
	kv.aggs[0] = a
	kv.unbound() // (put in other than by create)
	u := velocity.NewUndo()
	u.Mark()
	kv.log = u
	a.Log(u)
	if kv.expire(200, nil) || kv.aggs[0] != nil {
		t.Fatal("expiry kept an aggregate past its window, or freed a logged state")
	}
	if lay.spare != nil && len(lay.spare[0]) > 0 {
		t.Fatal("a logged aggregate was kept for reuse")
	}
	u.Undo()
	if kv.aggs[0] != a || a.EmptyAt() != 110 {
		t.Fatal("the log's roll-back did not restore the aggregate whole")
	}
	kv.detach()
	kv.soon = math.MinInt64 // (as replayFeed after a roll-back)
	if !kv.expire(200, nil) || len(lay.spare[0]) != 1 || lay.spare[0][0] != a || a.EmptyAt() != math.MinInt64 {
		t.Fatal("an unlogged aggregate was not kept, empty, for reuse")
	}
	if lay.take(0, velocity.Spec{Func: velocity.Count, Window: 100}) == a {
		t.Fatal("a spare taken for another aggregate")
	}
	if b := lay.take(0, spec); b == a || len(lay.spare[0]) != 0 {
		t.Fatal("a spare of the wrong spec stayed kept")
	}
}

// spareFault checks the shard's spare aggregates against owner (each key's aggregates,
// by key): a spare must be no key's and hold no event. It returns the last fault found,
// "" for none, and shows each spare to seen.
func spareFault(s *shard, owner map[*velocity.Agg]string, seen func(a *velocity.Agg)) string {
	p := s.velocity()
	if p == nil {
		return ""
	}
	bad := ""
	for _, sp := range p.lay.spare {
		for _, a := range sp {
			if o, ok := owner[a]; ok {
				bad = "a spare aggregate is key " + o + "'s"
			}
			if a.EmptyAt() != math.MinInt64 {
				bad = "a spare aggregate holds events"
			}
			seen(a)
		}
	}
	return bad
}

// TestNewBlockSpares: an aggregate made new is made with the rule's others that have no
// spare (velLayout.newBlock), which become their places' spares, of their specs, so that
// the key's next creates take them; a place with a spare gets none.
func TestNewBlockSpares(t *testing.T) {
	specs := []velocity.Spec{{Func: velocity.Count, Window: 100}, {Func: velocity.Distinct, Window: 100}, {Func: velocity.Sum, Window: 100, By: true}, {Func: velocity.Max, Window: 50}}
	var rule []*rules.Aggregate
	for _, s := range specs {
		rule = append(rule, &rules.Aggregate{Spec: s})
	}
	lay := newVelLayout([][]*rules.Aggregate{{{Spec: velocity.Spec{Func: velocity.Min, Window: 7}}}, rule}, []int64{0, 0})
	a := lay.take(2, specs[1])
	if a.Spec() != specs[1] || len(lay.spare[0]) != 0 || len(lay.spare[2]) != 0 {
		t.Fatal("the new aggregate is not of its place, or a spare was made for it or another rule")
	}
	seen := map[*velocity.Agg]bool{a: true}
	for j, s := range specs {
		if j == 1 {
			continue
		}
		if len(lay.spare[1+j]) != 1 {
			t.Fatalf("place %d: %d spares, want the block's one", 1+j, len(lay.spare[1+j]))
		}
		b := lay.take(1+j, s)
		if b.Spec() != s || seen[b] || b.EmptyAt() != math.MinInt64 {
			t.Fatalf("place %d: a block's aggregate of %+v, or one seen, or not empty", 1+j, b.Spec())
		}
		seen[b] = true
		b.Add(10, velocity.Key{S: "m1"}, 1, velocity.Key{S: "v"})
	}
	lay.free(4, lay.take(4, specs[3])) // a new block for place 4; its others' spares...
	for j := range specs {
		if len(lay.spare[1+j]) != 1 {
			t.Fatalf("place %d: %d spares, want 1", 1+j, len(lay.spare[1+j]))
		}
	}
	lay.take(2, specs[1]) // ...are taken first; a new block then leaves out places 3 and 4
	lay.take(1, specs[0])
	if b := lay.take(2, specs[1]); b.Spec() != specs[1] || len(lay.spare[1]) != 1 || len(lay.spare[2]) != 0 || len(lay.spare[3]) != 1 || len(lay.spare[4]) != 1 {
		t.Fatalf("a block made with places that had spares: spares %d %d %d %d", len(lay.spare[1]), len(lay.spare[2]), len(lay.spare[3]), len(lay.spare[4]))
	}
}

// TestSpareKeyStatesUnshared: a key's velocity state that expiry empties wait in its
// shard's layout for reuse (velLayout.freeKV, newKeyVelocity). While one waits, no key
// may reach it (its live state, its base, its journal's live state) and it is blank as
// a new one; and waiting ones are taken again. The values are checked against the same
// events in order as well.
func TestSpareKeyStatesUnshared(t *testing.T) {
	evs := genEvents(43, 150, 6000)
	rs := velocityRuleSet(t)
	cfg := Config{Shards: 2, OutOfOrderness: 3 * time.Second}
	shuffled := arriveWithin(evs, rand.New(rand.NewPCG(7, 8)), cfg.OutOfOrderness)
	waited := map[*keyVelocity]bool{}
	reused := 0
	ingestChecked(t, rs, cfg, records(shuffled), func(s *shard) (bad string) {
		owner := map[*keyVelocity]string{}
		for _, ks := range s.list {
			for _, kv := range []*keyVelocity{ks.vel, ks.velBase()} {
				if kv == nil {
					continue
				}
				owner[kv] = ks.key
				if kv.jour != nil && kv.jour.live != nil {
					owner[kv.jour.live] = ks.key
				}
			}
		}
		for kv := range owner {
			if waited[kv] {
				reused++
				delete(waited, kv)
			}
		}
		p := s.velocity()
		if p == nil {
			return ""
		}
		for _, kv := range p.lay.kvs {
			if o, ok := owner[kv]; ok {
				bad = "a spare key state is key " + o + "'s"
			}
			if !kv.blank() || kv.soon != math.MaxInt64 || kv.late != math.MinInt64 || kv.log != nil || kv.jour != nil || kv.lay != p.lay {
				bad = "a spare key state is not blank"
			}
			for _, q := range kv.quiet {
				if q != math.MinInt64 {
					bad = "a spare key state holds a hold"
				}
			}
			waited[kv] = true
		}
		return bad
	})
	if reused == 0 {
		t.Fatal("no spare key state reused: the test does not test what it should")
	}
	checkAsInOrder(t, "spare key states", rs, cfg, evs, shuffled)
}
