package engine

import (
	"fmt"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/rules"
)

// Key spaces. A rule is evaluated per the schema's key (the card) unless it says `key:`
// another field (a device, an IP, an account, a merchant). The rules keyed by one field
// form a key space: its own engine, reading the same events with a schema keyed by that
// field, with its own keys, partial matches, watermarks and checkpoints. An Engine runs
// exactly one key space, that of its schema's key; KeySpaces routes each event to every
// key space it has a key in, in process (replay, rule tests, backtests). Between
// instances, the same split goes through a repartition topic (DESIGN.md).

// KeySpace is the share of a rule set keyed by one field.
type KeySpace struct {
	// Field is the key field; Rules.Schema is keyed by it.
	Field string
	Rules *RuleSet
}

// SplitKeySpaces splits rs by each rule's key field: the schema's own key first (always,
// possibly with no rule), then the other fields in the order their first rule appears.
// Each key space's rule set keeps rs's memo slots and the rules' order.
func SplitKeySpaces(rs *RuleSet) ([]KeySpace, error) {
	primary := rs.Schema.KeyField
	byField := map[string]*RuleSet{}
	var fields []string
	for _, c := range rs.Rules {
		f := ruleKey(rs.Schema, c)
		sub := byField[f]
		if sub == nil {
			s, err := rs.Schema.KeyedBy(f)
			if err != nil {
				return nil, fmt.Errorf("rule %s: key %q: %w", c.Rule.ID, f, err)
			}
			sub = &RuleSet{Schema: s, Slots: rs.Slots}
			byField[f] = sub
			if f != primary {
				fields = append(fields, f)
			}
		}
		sub.Rules = append(sub.Rules, c)
	}
	own := byField[primary]
	if own == nil {
		own = &RuleSet{Schema: rs.Schema, Slots: rs.Slots}
	}
	out := []KeySpace{{Field: primary, Rules: own}}
	for _, f := range fields {
		out = append(out, KeySpace{Field: f, Rules: byField[f]})
	}
	return out, nil
}

// ruleKey is the field rule c is keyed by.
func ruleKey(s *event.Schema, c *rules.Compiled) string {
	if k := c.Rule.KeyField(); k != "" {
		return k
	}
	return s.KeyField
}

// ownKeySpace returns the rules of rs that this engine runs (those keyed by its schema's
// key) and the ids of the others, which other key spaces run.
func ownKeySpace(rs *RuleSet) (*RuleSet, []string) {
	var other []string
	for _, c := range rs.Rules {
		if ruleKey(rs.Schema, c) != rs.Schema.KeyField {
			other = append(other, c.Rule.ID)
		}
	}
	if len(other) == 0 {
		return rs, nil
	}
	own := &RuleSet{Schema: rs.Schema, Slots: rs.Slots}
	for _, c := range rs.Rules {
		if ruleKey(rs.Schema, c) == rs.Schema.KeyField {
			own.Rules = append(own.Rules, c)
		}
	}
	return own, other
}

// logOtherKeys tells that rules keyed by another field are not run by this engine.
func (e *Engine) logOtherKeys(rs *RuleSet, ids []string) {
	if len(ids) > 0 {
		e.log.Warn("rules keyed by another field than the events' key are not run by this engine (cepd replay, cepd test, backtests and the embedded server run them, each in its key space; cepd serve with Kafka too, through repartition topics: docs/rekeying.md)",
			"key", rs.Schema.KeyField, "rules", ids)
	}
}

// KeySpaces runs a rule set whose rules may be keyed by several fields, in process: an
// Engine with Config.KeySpaces set, which owns one engine per other key space and feeds
// each every event the first (the schema's key) accepts (keyspaces.go). An event is
// matched in each key space where it has a key; one that lacks a key space's field
// (absent or null) is counted in Missing for it, not dead-lettered. Events the first key
// space rejects (malformed) are reported by it alone and reach no other.
//
// Concurrency: as Engine.
type KeySpaces struct {
	*Engine
}

// NewKeySpaces builds an engine running every key space of rs (SplitKeySpaces), all with
// cfg, sink and dlq.
func NewKeySpaces(cfg Config, rs *RuleSet, sink alerts.Sink, dlq DeadLetterSink) (*KeySpaces, error) {
	cfg.KeySpaces = true
	e, err := New(cfg, rs, sink, dlq)
	if err != nil {
		return nil, err
	}
	return &KeySpaces{Engine: e}, nil
}

// Spaces returns the key spaces, the schema's key first.
func (k *KeySpaces) Spaces() []KeySpace {
	out := []KeySpace{{Field: k.cur.Load().Schema.KeyField, Rules: k.cur.Load()}}
	for _, c := range k.ks.children() {
		out = append(out, KeySpace{Field: c.field, Rules: c.eng.cur.Load()})
	}
	return out
}

// Engines returns the key spaces' engines, in the order of Spaces.
func (k *KeySpaces) Engines() []*Engine {
	out := []*Engine{k.Engine}
	for _, c := range k.ks.children() {
		out = append(out, c.eng)
	}
	return out
}

func ruleIDs(rs *RuleSet) []string {
	ids := make([]string, len(rs.Rules))
	for i, c := range rs.Rules {
		ids[i] = c.Rule.ID
	}
	return ids
}
