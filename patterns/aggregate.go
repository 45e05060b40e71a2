package patterns

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// AggFunc is what a velocity aggregate computes over its window.
type AggFunc uint8

// Aggregate functions. AggNone is "not written" (an error).
const (
	AggNone     AggFunc = iota
	AggCount            // the number of events
	AggSum              // the sum of a numeric field
	AggAvg              // the mean of a numeric field
	AggMin              // the smallest value of a numeric field
	AggMax              // the largest value of a numeric field
	AggDistinct         // the number of distinct values of a field
)

var aggFuncNames = [...]string{AggNone: "", AggCount: "count", AggSum: "sum", AggAvg: "avg", AggMin: "min", AggMax: "max", AggDistinct: "distinct"}

var aggFuncWords = map[string]int{
	"count": int(AggCount), "sum": int(AggSum), "avg": int(AggAvg), "min": int(AggMin), "max": int(AggMax),
	"distinct": int(AggDistinct), "average": int(AggAvg), "count_distinct": int(AggDistinct),
}

var aggFuncCanonical = []string{"count", "sum", "avg", "min", "max", "distinct"}

func (f AggFunc) String() string { return enumName(aggFuncNames[:], f) }

// Numeric reports whether the function needs a numeric field.
func (f AggFunc) Numeric() bool { return f == AggSum || f == AggAvg || f == AggMin || f == AggMax }

// Aggregate is a velocity aggregate: a value per key over a sliding event-time window of
// the key's events that meet Where (all of them when empty), optionally per value of the
// field By. Conditions and emit expressions read it as agg.NAME.
type Aggregate struct {
	Name     string
	Func     AggFunc
	Field    string // the event field aggregated; "" for count
	Where    string // CEL: which events count ("" = every event of the key)
	WindowMs int64
	By       string // "" or the field whose value selects the group (merchant, device)

	Pos      Pos // the aggregate's mapping
	FieldPos Pos // where field's and by's values stand (the aggregate's Pos when not written)
	ByPos    Pos
	WhereSrc Src
}

// RearmKind says when a rule that alerted for a key may alert again for it.
type RearmKind uint8

// Rearm policies.
const (
	// RearmEveryEvent (the default): every match alerts.
	RearmEveryEvent RearmKind = iota
	// RearmOncePerWindow: after an alert, the rule's matches for the key are dropped
	// until the rule's longest aggregate window (else its within) has passed.
	RearmOncePerWindow
	// RearmAfter: after an alert, matches are dropped for AfterMs.
	RearmAfter
)

var rearmNames = [...]string{RearmEveryEvent: "every_event", RearmOncePerWindow: "once_per_window", RearmAfter: "after"}

var rearmWords = map[string]int{"every_event": int(RearmEveryEvent), "once_per_window": int(RearmOncePerWindow)}

// Rearm is a rule's rearm policy: after a match alert of the rule for a key at event
// time t (the match's last event), matches of the rule for the key whose last event is
// before t + the hold-off are dropped.
type Rearm struct {
	Kind    RearmKind
	AfterMs int64 // for RearmAfter
	Pos     Pos
}

// HoldMs is how long after an alert the rule stays silent for the key (0: never).
func (r *Rule) HoldMs() int64 {
	switch r.Rearm.Kind {
	case RearmAfter:
		return r.Rearm.AfterMs
	case RearmOncePerWindow:
		var w int64
		for _, a := range r.Aggregates {
			w = max(w, a.WindowMs)
		}
		if w == 0 {
			w = r.Pattern.WithinMs
		}
		return w
	}
	return 0
}

// Limits on aggregates.
const MaxAggregates = 32

var aggKeys = []string{"name", "function", "field", "where", "window", "by"}

// aggregates decodes the list of aggregates.
func (d *decoder) aggregates(f field, r *Rule) []*Aggregate {
	if !d.holds(f, yaml.SequenceNode, "a list of aggregates (lines starting with '- '), e.g. - {name: auths_1h, function: count, window: 1h}", r) {
		return nil
	}
	var out []*Aggregate
	for _, n := range f.val.Content {
		a := &Aggregate{Pos: nodePos(n)}
		m := d.fields(n, "aggregate", a, aggKeys)
		if m == nil {
			continue
		}
		a.Name, _ = d.text(m["name"], a, "a name")
		a.Name = strings.TrimSpace(a.Name)
		if fn, ok := d.word(m["function"], a, "aggregate function", aggFuncWords, aggFuncCanonical); ok {
			a.Func = AggFunc(fn)
		}
		a.Field = d.trimmed(m["field"], a)
		a.Where, a.WhereSrc = d.expr(m["where"], a)
		a.WindowMs = d.duration(m["window"], a)
		a.By = d.trimmed(m["by"], a)
		a.FieldPos, a.ByPos = a.Pos, a.Pos
		if f := m["field"]; f.val != nil {
			a.FieldPos = nodePos(f.val)
		}
		if f := m["by"]; f.val != nil {
			a.ByPos = nodePos(f.val)
		}
		out = append(out, a)
	}
	return out
}

// rearm decodes "rearm: every_event", "rearm: once_per_window" or "rearm: {after: 30m}".
func (d *decoder) rearm(f field, r *Rule) {
	if f.val == nil || isNull(f.val) {
		return
	}
	r.Rearm.Pos = nodePos(f.key)
	if f.val.Kind == yaml.MappingNode {
		m := d.fields(f.val, "rearm", &r.Rearm, []string{"after"})
		if m == nil {
			return
		}
		if _, ok := m["after"]; !ok {
			d.errorf(f.val, "'rearm' as a mapping needs 'after', e.g. {after: 30m}")
			d.markBad(r, "rearm")
			return
		}
		r.Rearm.Kind = RearmAfter
		r.Rearm.AfterMs = d.duration(m["after"], &r.Rearm)
		if d.meta.get(&r.Rearm, "after").bad {
			d.markBad(r, "rearm")
		}
		return
	}
	if k, ok := d.word(f, r, "rearm policy", rearmWords, []string{"every_event", "once_per_window", "{after: DURATION}"}); ok {
		r.Rearm.Kind = RearmKind(k)
	}
}

// aggregates validates the rule's aggregates and rearm policy (their CEL and fields are
// checked by the compiler, which knows the schema).
func (v *validator) aggregates() {
	r := v.r
	v.atMost("aggregates", "aggregates", len(r.Aggregates), MaxAggregates)
	seen := map[string]Pos{}
	for _, a := range r.Aggregates {
		at := func(key string) Pos { return v.val(a, key, a.Pos) }
		switch first, dup := seen[a.Name]; {
		case a.Name == "" && !v.bad(a, "name"):
			v.errorf(a.Pos, "an aggregate needs a 'name' (conditions read it as agg.NAME), e.g. name: auths_1h")
		case a.Name != "" && (!isIdent(a.Name) || len(a.Name) > MaxNameLen):
			v.errorf(at("name"), "aggregate name '%s' is not an identifier: use letters, digits and '_', not starting with a digit", a.Name)
		case dup:
			v.errorf(at("name"), "duplicate aggregate name '%s'%s", a.Name, firstOn(first))
		default:
			seen[a.Name] = at("name")
		}
		if a.Func == AggNone && !v.bad(a, "function") {
			v.errorf(a.Pos, "aggregate '%s' needs a 'function' (%s)", a.Name, strings.Join(aggFuncCanonical, ", "))
		}
		switch {
		case a.Func == AggCount && a.Field != "":
			v.errorf(at("field"), "aggregate '%s': count counts events and takes no 'field' (to count the distinct values of %s use function: distinct)", a.Name, a.Field)
		case a.Func != AggCount && a.Func != AggNone && a.Field == "" && !v.bad(a, "field"):
			v.errorf(a.Pos, "aggregate '%s': %s needs a 'field', e.g. field: amount", a.Name, a.Func)
		}
		if a.WindowMs <= 0 && !v.bad(a, "window") {
			v.errorf(a.Pos, "aggregate '%s' needs a 'window', e.g. window: 1h", a.Name)
		}
	}
	if r.Rearm.Kind == RearmAfter && r.Rearm.AfterMs <= 0 && !v.bad(r, "rearm") {
		v.errorf(r.Rearm.Pos, "'rearm: {after: D}' needs a positive duration")
	}
	if r.Rearm.Kind == RearmOncePerWindow && r.HoldMs() == 0 {
		v.errorf(r.Rearm.Pos, "'rearm: once_per_window' needs a window: give the rule aggregates or a 'within' (or write rearm: {after: 30m})")
	}
}

// aggregates writes the rule's aggregates in canonical form.
func (w *printer) aggregates(list []*Aggregate) {
	if len(list) == 0 {
		return
	}
	w.line(0, "aggregates:")
	for _, a := range list {
		w.text(2, "- name", a.Name, false)
		w.line(4, "function: "+a.Func.String())
		if a.Field != "" {
			w.text(4, "field", a.Field, false)
		}
		if a.Where != "" {
			w.text(4, "where", a.Where, true)
		}
		w.line(4, "window: "+FormatDuration(a.WindowMs))
		if a.By != "" {
			w.text(4, "by", a.By, false)
		}
	}
}

// rearm writes the rule's rearm policy unless it is the default.
func (w *printer) rearm(r Rearm) {
	switch r.Kind {
	case RearmEveryEvent:
	case RearmAfter:
		w.line(0, "rearm: {after: "+FormatDuration(r.AfterMs)+"}")
	default:
		w.line(0, "rearm: "+enumName(rearmNames[:], r.Kind))
	}
}
