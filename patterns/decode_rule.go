package patterns

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// ruleKeys are the keys of a rule, in the order Format writes them.
var ruleKeys = []string{"id", "name", "description", "severity", "owner", "tags", "key",
	"within", "skip", "release", "rearm", "timeouts", "cooldown", "decision", "aggregates", "pattern", "emit"}

// DefaultSeverity is the severity of a rule that does not say.
const DefaultSeverity = "medium"

// rule decodes the document's root mapping.
func (d *decoder) rule(n *yaml.Node) *Rule {
	r := &Rule{Source: d.file}
	d.meta[metaKey{obj: r}] = keyInfo{key: nodePos(n), val: nodePos(n)}
	f := d.fields(n, "rule", r, ruleKeys)
	if f == nil {
		return r
	}
	r.ID, _ = d.text(f["id"], r, "text")
	r.Name = d.trimmed(f["name"], r)
	if desc, ok := d.text(f["description"], r, "text"); ok {
		r.Description = strings.TrimSpace(desc)
	}
	r.Severity = d.trimmed(f["severity"], r)
	if r.Severity == "" {
		r.Severity = DefaultSeverity
	}
	r.Owner = d.trimmed(f["owner"], r)
	r.Tags = d.tags(f["tags"], r)
	r.Key = d.trimmed(f["key"], r)
	if v := f["key"].val; v != nil && r.Key != "" {
		r.KeyPos = nodePos(v)
	}
	d.within(f["within"], r)
	d.skip(f["skip"], r)
	if rel, ok := d.word(f["release"], r, "release", releaseWords, releaseNames[:]); ok {
		r.Pattern.Release = Release(rel)
	}
	d.rearm(f["rearm"], r)
	r.Timeouts = d.boolean(f["timeouts"], r)
	d.cooldown(f["cooldown"], r)
	d.decision(f["decision"], r)
	r.Aggregates = d.aggregates(f["aggregates"], r)
	if p, ok := f["pattern"]; ok && !isNull(p.val) {
		r.Pattern.Steps = d.steps(p, r)
	}
	r.Emit = d.emit(f["emit"], r)
	if r.Name == "" {
		r.Name = r.ID
	}
	return r
}

// trimmed decodes a one-line text value without surrounding space.
func (d *decoder) trimmed(f field, obj any) string {
	s, _ := d.text(f, obj, "text")
	return strings.TrimSpace(s)
}

func (d *decoder) tags(f field, r *Rule) []string {
	if !d.holds(f, yaml.SequenceNode, "a list, e.g. [card-not-present, testing]", nil) {
		return nil
	}
	var tags []string
	for _, t := range f.val.Content {
		if t.Kind != yaml.ScalarNode || isNull(t) {
			d.errorf(t, "a tag must be a word, not %s", kindName(t))
			continue
		}
		d.meta[metaKey{obj: r, key: "tags", idx: len(tags) + 1}] = keyInfo{key: nodePos(t), val: nodePos(t)}
		tags = append(tags, strings.TrimSpace(t.Value))
	}
	return tags
}

var withinTypes = map[string]int{
	"first_and_last":       int(FirstAndLast),
	"previous_and_current": int(PreviousAndCurrent),
}

// within decodes "within: 30m" or "within: {duration: 10s, type: previous_and_current}".
func (d *decoder) within(f field, r *Rule) {
	if f.val == nil || f.val.Kind != yaml.MappingNode {
		r.Pattern.WithinMs = d.duration(f, r)
		return
	}
	p := &r.Pattern
	w := d.fields(f.val, "within", p, []string{"duration", "type"})
	if dur, ok := w["duration"]; ok {
		p.WithinMs = d.duration(dur, p)
	} else {
		d.errorf(f.val, "'within' as a mapping needs a 'duration', e.g. {duration: 10m, type: previous_and_current}")
		d.markBad(r, "within")
	}
	if t, ok := d.word(w["type"], p, "window type", withinTypes, []string{"first_and_last", "previous_and_current"}); ok {
		p.WithinType = WithinType(t)
	}
	if d.meta.get(p, "duration").bad || d.meta.get(p, "type").bad {
		d.markBad(r, "within")
	}
}

var skipKinds = map[string]int{
	"no_skip": int(NoSkip), "to_next": int(SkipToNext), "past_last_event": int(SkipPastLastEvent),
	"to_first": int(SkipToFirst), "to_last": int(SkipToLast),
	// Flink's spellings.
	"skip_to_next": int(SkipToNext), "skip_past_last_event": int(SkipPastLastEvent),
	"skip_to_first": int(SkipToFirst), "skip_to_last": int(SkipToLast),
}

var releaseWords = map[string]int{
	"at_completion": int(AtCompletion), "in_start_order": int(InStartOrder),
}

var skipWords = []string{"no_skip", "to_next", "past_last_event", "to_first:STEP", "to_last:STEP"}

// skip decodes "skip: past_last_event", "skip: to_first:STEP" or
// "skip: {strategy: to_first, step: STEP}".
func (d *decoder) skip(f field, r *Rule) {
	if f.val == nil || isNull(f.val) {
		return
	}
	sk := &r.Pattern.Skip
	sk.Pos = nodePos(f.key)
	var strategy field
	switch f.val.Kind {
	case yaml.MappingNode:
		if c := f.val.Content; len(c) == 2 && skipKinds[c[0].Value] >= int(SkipToFirst) {
			d.errorf(c[0], "write 'skip: %s:%s' with no space after the colon, or {strategy: %s, step: %s}",
				c[0].Value, c[1].Value, c[0].Value, c[1].Value)
			d.markBad(r, "skip")
			return
		}
		m := d.fields(f.val, "skip", sk, []string{"strategy", "step"})
		if _, ok := m["strategy"]; !ok && m != nil {
			d.errorf(f.val, "'skip' as a mapping needs a 'strategy', e.g. {strategy: to_first, step: small}")
		}
		strategy = m["strategy"]
		sk.Step = d.trimmed(m["step"], sk)
	case yaml.ScalarNode:
		strategy = f
		if name, rest, found := strings.Cut(f.val.Value, ":"); found {
			v := *f.val
			v.Value = strings.TrimSpace(name)
			strategy.val = &v
			sk.Step = strings.TrimSpace(rest)
		}
	default:
		d.errorf(f.val, "'skip' must be a strategy (%s), not %s", strings.Join(skipWords, ", "), kindName(f.val))
		d.markBad(r, "skip")
		return
	}
	if kind, ok := d.word(strategy, r, "skip strategy", skipKinds, skipWords); ok {
		sk.Kind = SkipKind(kind)
	} else {
		d.markBad(r, "skip")
	}
}

// emit decodes the ordered mapping of alert values.
func (d *decoder) emit(f field, r *Rule) []Emit {
	if !d.holds(f, yaml.MappingNode, "a mapping of name: expression", nil) {
		return nil
	}
	var out []Emit
	for i := 0; i+1 < len(f.val.Content); i += 2 {
		k, v := f.val.Content[i], f.val.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "an emit name must be a word, not %s", kindName(k))
			continue
		}
		e := Emit{Name: k.Value}
		info := keyInfo{key: nodePos(k), val: nodePos(v)}
		switch {
		case v.Kind != yaml.ScalarNode:
			d.errorf(v, "emit '%s' must be a CEL expression, not %s", k.Value, kindName(v))
			info.bad = true
		case !isNull(v):
			e.Expr = trimExpr(v.Value)
			e.Src = d.exprSrc(k, v)
		}
		d.meta[metaKey{obj: r, key: "emit", idx: len(out) + 1}] = info
		out = append(out, e)
	}
	return out
}

// trimExpr drops trailing white space (the newline a block scalar keeps); leading space
// stays so that positions inside the expression are unchanged.
func trimExpr(s string) string { return strings.TrimRight(s, " \t\r\n") }
