package engine

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/state"
)

// Cooldowns. A rule with `cooldown: D` delivers an alert for a key only when the alert's
// event time (its last event's, or a timeout's expiry) is at least D after the rule's last
// delivered alert for the key; the others are suppressed (counted, not delivered). The
// state is the key's: per rule id, the event time until which the rule is cooling
// (last delivered + D). So it is decided in event time only, moves with the key through
// checkpoints, restores and re-matches, and a replay of the same events suppresses the
// same alerts. With out-of-orderness the key's base keeps the cooldowns as they were
// before its journal, and a re-match replays them with the journal (order.go).
//
// A cooling key is kept while its partition's clock (the key's timers' clock) is before
// the end of a cooldown, and the cooldown is then forgotten like a closed window: an
// event of the key that arrives later but is older than that clock (the key lagging its
// partition by more than the out-of-orderness) is not suppressed by it.

// cooldowns is a key's cooldowns: the event time (ms) until which each rule (by engine
// rule id) suppresses the key's alerts.
type cooldowns map[string]int64

func (c cooldowns) clone() cooldowns {
	if len(c) == 0 {
		return nil
	}
	out := make(cooldowns, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// pass decides an alert at event time t of rule id with cooldown d (ms, > 0): false when
// the rule is cooling for the key at t; true, starting a cooldown, otherwise.
func (c *cooldowns) pass(id string, t, d int64) bool {
	if until, ok := (*c)[id]; ok && t < until {
		return false
	}
	if *c == nil {
		*c = cooldowns{}
	}
	(*c)[id] = satAdd(t, d)
	return true
}

// alertTime is the event time a cooldown measures an alert by.
func alertTime(a *alerts.Alert) int64 {
	if a.TimeoutAt != nil {
		return a.TimeoutAt.UnixMilli()
	}
	return a.LastEventTime.UnixMilli()
}

// matchTime is alertTime for a match (at = 0) or a timeout at at, without building it.
func matchTime(m *nfa.Match, at int64) int64 {
	if at != 0 {
		return at
	}
	t := int64(math.MinInt64)
	for _, st := range m.Steps {
		for _, ev := range st.Events {
			t = max(t, ev.Time)
		}
	}
	return t
}

// cool decides whether alert a of rule ri for key may be delivered: rules without a
// cooldown always pass; a suppressed alert is counted.
func (s *shard) cool(ri int, key string, a *alerts.Alert) bool {
	c := s.rules.Rules[ri]
	d := c.Rule.CooldownMs
	if d <= 0 {
		return true
	}
	ks := s.keys[key]
	if ks == nil { // not reached: a key that matched has its state while it emits
		return true
	}
	if ks.cool.pass(c.Rule.ID, alertTime(a), d) {
		return true
	}
	s.rules.cooled[ri].Add(1)
	s.e.stats.cooled.Add(1)
	return false
}

// prune forgets the cooldowns that ended by now; it returns the earliest end left
// (math.MaxInt64: none).
func (c cooldowns) prune(now int64) int64 {
	next := int64(math.MaxInt64)
	for id, until := range c {
		if until <= now {
			delete(c, id)
			continue
		}
		next = min(next, until)
	}
	return next
}

// sectionCooldown is the key-state section that keeps a key's cooldowns (those of its
// base when it has a journal): a count, then per rule (sorted by id) the id and the end.
const sectionCooldown = 16

func cooldownSection(c cooldowns) (state.Section, bool) {
	if len(c) == 0 {
		return state.Section{}, false
	}
	ids := make([]string, 0, len(c))
	for id := range c {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b := binary.AppendUvarint(nil, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = binary.AppendVarint(b, c[id])
	}
	return state.Section{Kind: sectionCooldown, Data: b}, true
}

// restoreCooldown reads a key's cooldowns from its sections (nil when it has none or
// the section cannot be read: the key then starts without cooldowns).
func restoreCooldown(secs []state.Section) cooldowns {
	for _, sec := range secs {
		if sec.Kind != sectionCooldown {
			continue
		}
		b := sec.Data
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)) {
			return nil
		}
		b = b[k:]
		out := make(cooldowns, n)
		for range n {
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return nil
			}
			id := string(b[k : k+int(l)])
			b = b[k+int(l):]
			until, k2 := binary.Varint(b)
			if k2 <= 0 {
				return nil
			}
			b = b[k2:]
			out[id] = until
		}
		return out
	}
	return nil
}

// Cooled returns how many alerts rules' cooldowns have suppressed.
func (s *Stats) Cooled() uint64 { return s.cooled.Load() }

// CooledByRule returns how many alerts each rule of the current rule set had suppressed
// by its cooldown.
func (e *Engine) CooledByRule() map[string]uint64 {
	rs := e.Rules()
	out := make(map[string]uint64, len(rs.Rules))
	for i, c := range rs.Rules {
		if n := rs.cooled[i].Load(); n > 0 || c.Rule.CooldownMs > 0 {
			out[c.Rule.ID] = n
		}
	}
	return out
}

// Cooled returns how many alerts the cooldown of rule i (of rs.Rules) has suppressed.
func (rs *RuleSet) Cooled(i int) uint64 { return rs.cooled[i].Load() }
