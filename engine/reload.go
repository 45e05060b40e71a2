package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// ReloadStats describes one rule-set swap.
type ReloadStats struct {
	Kept    int           // rules whose partial matches were kept (same compiled fingerprint)
	Fresh   int           // rules that start fresh (new, or changed)
	Removed int           // rules no longer in the set (their state is freed)
	Pause   time.Duration // the longest time one shard spent swapping (its matching paused)
}

// SwapRules replaces the running rule set with rs, compiled completely beforehand against
// the same event schema. Each shard swaps when it reaches the swap in its queue, between
// two batches, so no event is lost or matched twice: events before it are matched by the
// old rules, events after by the new. A rule whose compiled fingerprint is unchanged keeps
// its partial matches; a changed rule starts fresh; a removed rule's state is freed.
// Rules keyed by another field than the schema's key are left out, as in New.
// With Config.KeySpaces, every key space gets its share, and a rule moves to the key
// space of its key.
func (e *Engine) SwapRules(ctx context.Context, rs *RuleSet) (ReloadStats, error) {
	if rs == nil || rs.Schema == nil {
		return ReloadStats{}, errors.New("engine: reload needs a compiled rule set with its schema")
	}
	if e.ks != nil {
		return e.swapSpaces(ctx, rs)
	}
	return e.swapOwn(ctx, rs)
}

// swapOwn is SwapRules in the engine's own key space.
func (e *Engine) swapOwn(ctx context.Context, rs *RuleSet) (ReloadStats, error) {
	old := e.cur.Load()
	if !rs.Schema.Equal(old.Schema) {
		// A schema that only adds optional fields is taken live: the partitions decode by
		// it from their next call (partition.decoder), events decoded before read the new
		// fields as absent, and checkpoints written before decode under it.
		if err := event.Compatible(old.Schema, rs.Schema); err != nil {
			return ReloadStats{}, fmt.Errorf("engine: %w", err)
		}
	}
	rs, other := ownKeySpace(rs)
	e.logWarnings(old, rs)
	e.logOtherKeys(rs, other)
	var st ReloadStats
	oldByID := map[string]int{}
	for i, c := range old.Rules {
		oldByID[c.Rule.ID] = i
	}
	seen := map[string]bool{}
	rs.alerts = make([]atomic.Uint64, len(rs.Rules))
	rs.cooled = make([]atomic.Uint64, len(rs.Rules))
	for i, c := range rs.Rules {
		if seen[c.Rule.ID] {
			return ReloadStats{}, fmt.Errorf("engine: rule %q appears twice in the new rule set", c.Rule.ID)
		}
		seen[c.Rule.ID] = true
		if oi, ok := oldByID[c.Rule.ID]; ok {
			rs.alerts[i].Store(old.alerts[oi].Load())
			rs.cooled[i].Store(old.cooled[oi].Load())
			if old.Rules[oi].Fingerprint() == c.Fingerprint() {
				st.Kept++ // the keys move lazily (shard.current)
				continue
			}
		}
		st.Fresh++
	}
	for id := range oldByID {
		if !seen[id] {
			st.Removed++
		}
	}
	e.cur.Store(rs)
	// Every shard gets the swap now, in its queue; they swap concurrently. Once begun, the
	// swap reaches every shard whatever the caller's deadline (only a closing engine stops
	// it): a shard left on the old rules would match by them while the engine reports the
	// new ones. The deadline ends only the wait for the shards to confirm.
	send := context.WithoutCancel(ctx)
	pauses := make([]time.Duration, len(e.shards))
	dones := make([]chan struct{}, len(e.shards))
	for i, s := range e.shards {
		i := i
		dones[i] = make(chan struct{})
		fn := func(s *shard) { pauses[i] = s.swapRules(rs) }
		if err := s.send(send, msg{kind: msgInspect, fn: fn, done: dones[i]}); err != nil {
			return st, err
		}
	}
	for i, d := range dones {
		select {
		case <-d:
			st.Pause = max(st.Pause, pauses[i])
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
	return st, nil
}

// swapRules makes rs the shard's rule set (on the shard goroutine). It costs O(1): each
// key moves to rs the first time it is touched afterwards (current), so a reload never
// pauses matching for a walk over every key.
func (s *shard) swapRules(rs *RuleSet) time.Duration {
	began := time.Now()
	s.rules = rs
	s.keepFrom = map[*RuleSet][]int{}
	s.sc.Memo = nfa.NewMemo(rs.Slots)
	s.sc.ForgetPrograms() // the old rule set's programs are dropped once its keys move
	s.spare = make([][]*nfa.Matcher, len(rs.Rules))
	s.spareBases = nil // their length is the old rule set's (newBase)
	return time.Since(began)
}

// current moves ks to the shard's rule set if it is still on an older one: matchers of
// rules with the same id and compiled fingerprint are re-bound and keep their partial
// matches; the others are dropped (changed or removed rules start fresh).
func (s *shard) current(ks *keyState) {
	if ks.rs == s.rules {
		return
	}
	keep := s.keepFrom[ks.rs]
	if keep == nil {
		keep = make([]int, len(s.rules.Rules))
		for ni, c := range s.rules.Rules {
			keep[ni] = -1
			for oi, o := range ks.rs.Rules {
				if o.Rule.ID == c.Rule.ID && o.Fingerprint() == c.Fingerprint() {
					keep[ni] = oi
				}
			}
		}
		s.keepFrom[ks.rs] = keep
	}
	var live int
	ks.m, live = s.rebind(&ks.m, keep)
	ks.vel = s.rebindVelocity(ks.vel, keep)
	s.fold(ks) // events before the reload stay matched by the rules of their time
	ks.live, ks.rs = int32(live), s.rules
	ks.dlOK = false // other matchers: the next settle or timer reads them all
	// The key's timer stays registered: what is left (matchers, velocity state,
	// cooldowns) is due no earlier than before, and a caller that does not settle the key
	// (Inspect, a checkpoint's snapshot, a late event dropped) must not leave it without
	// one. When it fires, or the key is settled, the next deadline is registered.
}

// rebind maps matchers of an older rule set to the shard's by keep (see current).
func (s *shard) rebind(ms *slots, keep []int) (slots, int) {
	nm := newSlots(len(s.rules.Rules))
	live := 0
	for ni, oi := range keep {
		if oi < 0 {
			continue
		}
		m := ms.get(oi)
		if m == nil {
			continue
		}
		if err := m.Rebind(s.rules.Rules[ni].Program); err != nil {
			continue // equal fingerprints give equal shapes; start fresh if not
		}
		nm.set(ni, m)
		live++
	}
	return nm, live
}
