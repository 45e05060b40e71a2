package engine

import (
	"context"
	"fmt"
	"github.com/cepd/cepd/alerts"
	"log/slog"

	"sync/atomic"

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
		e.log.Warn("rules keyed by another field than the events' key are not run by this engine (cepd replay, cepd test and backtests run them, each in its key space)",
			"key", rs.Schema.KeyField, "rules", ids)
	}
}

// KeySpaces runs a rule set whose rules may be keyed by several fields, in process: one
// Engine per key space, each fed every event the first (the schema's key) accepts. An
// event is matched in each key space where it has a key; one that lacks a key space's
// field (absent or null) is counted in Missing for it, not dead-lettered. Events the
// first key space rejects (malformed) are reported by it alone and reach no other.
//
// Concurrency: as Engine. Ingest calls for one partition must not overlap; each key
// space's engine orders its own partition the same way, so a key of every key space sees
// the events in the order they were ingested.
type KeySpaces struct {
	spaces  []KeySpace
	engines []*Engine
	missing []atomic.Uint64
}

// NewKeySpaces builds one engine per key space of rs (SplitKeySpaces), all with cfg,
// sink and dlq.
func NewKeySpaces(cfg Config, rs *RuleSet, sink alerts.Sink, dlq DeadLetterSink) (*KeySpaces, error) {
	spaces, err := SplitKeySpaces(rs)
	if err != nil {
		return nil, err
	}
	k := &KeySpaces{spaces: spaces, missing: make([]atomic.Uint64, len(spaces))}
	for i, sp := range spaces {
		d := dlq
		if i > 0 {
			d = &spaceDLQ{next: dlq, missing: &k.missing[i]}
		}
		eng, err := New(cfg, sp.Rules, sink, d)
		if err != nil {
			return nil, fmt.Errorf("key space %s: %w", sp.Field, err)
		}
		k.engines = append(k.engines, eng)
	}
	return k, nil
}

// Spaces returns the key spaces, the schema's key first.
func (k *KeySpaces) Spaces() []KeySpace { return k.spaces }

// Engines returns the key spaces' engines, in the order of Spaces.
func (k *KeySpaces) Engines() []*Engine { return k.engines }

// Start starts every key space's engine.
func (k *KeySpaces) Start(ctx context.Context) {
	for _, e := range k.engines {
		e.Start(ctx)
	}
}

// Close closes every key space's engine.
func (k *KeySpaces) Close() {
	for _, e := range k.engines {
		e.Close()
	}
}

// Ingest ingests recs of partition part into the first key space, then the records it
// accepted into each other one. It returns the first key space's record errors.
func (k *KeySpaces) Ingest(ctx context.Context, part int, recs []Record) ([]RecordError, error) {
	errs, err := k.engines[0].Ingest(ctx, part, recs)
	if err != nil || len(k.engines) == 1 {
		return errs, err
	}
	accepted := recs
	if len(errs) > 0 {
		accepted = make([]Record, 0, len(recs)-len(errs))
		bad := 0
		for i, r := range recs {
			if bad < len(errs) && errs[bad].Index == i {
				bad++
				continue
			}
			accepted = append(accepted, r)
		}
	}
	for _, e := range k.engines[1:] {
		if _, err := e.Ingest(ctx, part, accepted); err != nil {
			return errs, err
		}
	}
	return errs, nil
}

// Flush ends the stream in every key space (Engine.Flush).
func (k *KeySpaces) Flush(ctx context.Context) error {
	for _, e := range k.engines {
		if err := e.Flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Barrier returns once every key space has processed what it was sent (Engine.Barrier).
func (k *KeySpaces) Barrier(ctx context.Context) error {
	for _, e := range k.engines {
		if err := e.Barrier(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Missing returns, per key field other than the schema's, how many accepted events had
// no value for it (and so were matched in no key of that key space).
func (k *KeySpaces) Missing() map[string]uint64 {
	out := map[string]uint64{}
	for i, sp := range k.spaces[1:] {
		out[sp.Field] = k.missing[i+1].Load()
	}
	return out
}

// LogMissing logs, once per key space with any, how many events had no key there.
func (k *KeySpaces) LogMissing(log *slog.Logger) {
	for i, sp := range k.spaces[1:] {
		if n := k.missing[i+1].Load(); n > 0 {
			log.Info("events without the key field of a key space were not matched by its rules",
				"key", sp.Field, "events", n, "rules", ruleIDs(sp.Rules))
		}
	}
}

func ruleIDs(rs *RuleSet) []string {
	ids := make([]string, len(rs.Rules))
	for i, c := range rs.Rules {
		ids[i] = c.Rule.ID
	}
	return ids
}

// spaceDLQ is the dead-letter sink of a key space other than the first: an event without
// its key is counted; late events are dead-lettered as anywhere; other decoding failures
// cannot occur (the first key space accepted the event under the same fields) and are
// passed on should they.
type spaceDLQ struct {
	next    DeadLetterSink
	missing *atomic.Uint64
}

func (d *spaceDLQ) DeadLetter(x DeadLetter) {
	if x.Reason == event.ReasonMissingKey {
		d.missing.Add(1)
		return
	}
	d.next.DeadLetter(x)
}
