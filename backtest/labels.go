package backtest

import (
	"bytes"
	"strconv"

	"github.com/buger/jsonparser"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
)

// labels is what the input says about fraud: the label of every labelled event and, per
// label value, the keys having such an event. It is built before the run and read-only
// during it.
type labels struct {
	field   string
	of      map[string]string              // event id → label value (labelled events only)
	keys    map[string]map[string]struct{} // label value → keys with an event so labelled
	anyKeys map[string]struct{}            // keys with any labelled event
	events  int64                          // labelled events
	// keyOf maps a label naming a rule keyed by another field than the events' key to
	// that field's index: the keys of such a label are that field's values (the devices a
	// device rule should alert on), as the rule's alerts are.
	keyOf map[string]int
}

// newLabels returns empty labels read from field, keyed per the rules of rs.
func newLabels(field string, rs *engine.RuleSet) *labels {
	l := &labels{field: field, of: map[string]string{}, keys: map[string]map[string]struct{}{}, anyKeys: map[string]struct{}{}, keyOf: map[string]int{}}
	if rs != nil {
		for _, c := range rs.Rules {
			if k := c.Rule.KeyField(); k != "" && k != rs.Schema.KeyField {
				if i, ok := rs.Schema.Index(k); ok {
					l.keyOf[c.Rule.ID] = i
				}
			}
		}
	}
	return l
}

// add records ev (decoded from raw) if it is labelled.
func (l *labels) add(ev *event.Event, raw []byte) {
	v, ok := labelOf(raw, l.field)
	if !ok {
		return
	}
	l.events++
	l.of[engine.EventID(ev)] = v
	ks := l.keys[v]
	if ks == nil {
		ks = map[string]struct{}{}
		l.keys[v] = ks
	}
	key := ev.Key
	if i, ok := l.keyOf[v]; ok {
		if !ev.Value(i).Present() {
			l.anyKeys[ev.Key] = struct{}{}
			return // an event without the rule's key is in no key the rule can alert on
		}
		key = ev.Value(i).KeyString()
	}
	ks[key] = struct{}{}
	l.anyKeys[ev.Key] = struct{}{}
}

// labelOf returns the value of the top-level field of a JSON event as text and whether it
// labels the event: a non-empty string, true, a non-zero number, or a non-empty object or
// array. Absent, null, "", false and 0 do not.
func labelOf(raw []byte, field string) (string, bool) {
	v, typ, _, err := jsonparser.Get(raw, field)
	if err != nil {
		return "", false
	}
	switch typ {
	case jsonparser.String:
		s, err := jsonparser.ParseString(v)
		return s, err == nil && s != ""
	case jsonparser.Boolean:
		return "true", string(v) == "true"
	case jsonparser.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		return string(v), err == nil && f != 0
	case jsonparser.Object, jsonparser.Array:
		return string(v), len(v) >= 2 && len(bytes.TrimSpace(v[1:len(v)-1])) > 0
	}
	return "", false
}
