package engine

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/cepd/cepd/event"
)

// StateStats describes the state the shards hold.
type StateStats struct {
	Keys     int      `json:"keys"`      // keys with live state
	LiveRuns int      `json:"live_runs"` // partial matches in progress, all rules
	ByRule   []int    `json:"-"`         // live partial matches per rule, as RuleIDs
	RuleIDs  []string `json:"-"`         // the rules of the set inspected
	// KeysCut counts the keys marked by the memory budget: partial matches of the key were
	// cut (the mark lasts while the key holds state; it is not checkpointed).
	KeysCut int `json:"keys_cut"`
	// KeysByRule counts, per rule (as RuleIDs), the keys with a live partial match of it.
	KeysByRule []int `json:"-"`
	// Bytes is an accounting of the memory the key states hold (matchers, runs, shared
	// buffer entries, journal events and snapshots; events themselves approximated from the
	// schema);
	// computed only when asked for, as it walks everything.
	Bytes int `json:"bytes"`
}

// inspectStep is how many keys one step of Inspect's walk looks at (about a millisecond).
const inspectStep = 4096

// Inspect collects state statistics from every shard (on the shard goroutines); with
// Config.KeySpaces, of every key space (keys of each counted, rules listed one after the
// other).
func (e *Engine) Inspect(ctx context.Context, footprint bool) (StateStats, error) {
	st, err := e.inspectOwn(ctx, footprint)
	if err != nil {
		return st, err
	}
	for _, c := range e.ks.children() {
		o, err := c.eng.inspectOwn(ctx, footprint)
		if err != nil {
			return st, fmt.Errorf("key space %s: %w", c.field, err)
		}
		st.Keys, st.LiveRuns, st.Bytes, st.KeysCut = st.Keys+o.Keys, st.LiveRuns+o.LiveRuns, st.Bytes+o.Bytes, st.KeysCut+o.KeysCut
		st.RuleIDs = append(st.RuleIDs, o.RuleIDs...)
		st.ByRule = append(st.ByRule, o.ByRule...)
		st.KeysByRule = append(st.KeysByRule, o.KeysByRule...)
	}
	return st, nil
}

func (e *Engine) inspectOwn(ctx context.Context, footprint bool) (StateStats, error) {
	rs := e.cur.Load()
	st := StateStats{ByRule: make([]int, len(rs.Rules)), KeysByRule: make([]int, len(rs.Rules))}
	for _, c := range rs.Rules {
		st.RuleIDs = append(st.RuleIDs, c.Rule.ID)
	}
	per := make([]StateStats, len(e.shards))
	// An event the state retains: the Event struct plus its values slab (strings' bytes
	// not counted). Events shared by several rules of a key are counted once per rule.
	evBytes := int(unsafe.Sizeof(event.Event{})) + event.SlabBytes(len(e.schema().Fields))
	for i, s := range e.shards {
		p := StateStats{ByRule: make([]int, len(rs.Rules)), KeysByRule: make([]int, len(rs.Rules))}
		// The walk goes inspectStep keys at a time, each step one message to the shard, so
		// that the events queued meanwhile wait for one step, not for the whole walk. Keys
		// that come and go between steps may be missed or counted twice: the figures are
		// exact only when the stream is still.
		for from, more := 0, true; more; {
			done := make(chan struct{})
			fn := func(s *shard) {
				if s.rules != rs && len(p.ByRule) < len(s.rules.Rules) { // mid-reload: count by this shard's rules where they line up
					p.KeysByRule = append(p.KeysByRule, make([]int, len(s.rules.Rules)-len(p.ByRule))...)
					p.ByRule = append(p.ByRule, make([]int, len(s.rules.Rules)-len(p.ByRule))...)
				}
				to := min(from+inspectStep, len(s.list))
				for _, ks := range s.list[min(from, to):to] {
					s.current(ks)
					p.Keys++
					if footprint {
						p.Bytes += keyOwnBytes(ks, evBytes)
					}
					cut := ks.budgetCut
					for ri, m := range ks.m.all() {
						cut = cut || m.WasCut()
						p.LiveRuns += m.Live()
						p.ByRule[ri] += m.Live()
						if m.Live() > 0 {
							p.KeysByRule[ri]++
						}
						if footprint {
							f := m.Footprint()
							p.Bytes += f.Bytes
							p.Bytes += f.Events * evBytes
						}
					}
					if cut {
						p.KeysCut++
					}
				}
				from, more = to, to < len(s.list)
			}
			if err := s.send(ctx, msg{kind: msgInspect, fn: fn, done: done}); err != nil {
				return st, err
			}
			select {
			case <-done:
			case <-ctx.Done():
				return st, ctx.Err()
			}
		}
		per[i] = p
	}
	for _, p := range per {
		st.Keys += p.Keys
		st.LiveRuns += p.LiveRuns
		st.Bytes += p.Bytes
		st.KeysCut += p.KeysCut
		for i, n := range p.ByRule[:min(len(p.ByRule), len(st.ByRule))] {
			st.ByRule[i] += n
			st.KeysByRule[i] += p.KeysByRule[i]
		}
	}
	return st, nil
}

// keyOwnBytes estimates what a key holds besides its live matchers: its state, its
// journal and the journal's base.
func keyOwnBytes(ks *keyState, evBytes int) int {
	b := int(unsafe.Sizeof(*ks)) + ks.m.bytes() + len(ks.key) + 48 // + map entry
	if ks.base != nil {
		b += int(unsafe.Sizeof(*ks.base)) + len(ks.base.journal)*(int(unsafe.Sizeof(item{}))+evBytes)
	}
	for _, m := range ks.baseMatchers() {
		if m != nil {
			b += m.Footprint().Bytes // its events are the live matchers' or the journal's
		}
	}
	return b
}
