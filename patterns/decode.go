package patterns

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// metaKey names one key of a decoded object: obj is the *Rule or *Step the key belongs
// to; idx (1-based) tells apart the entries of a list or mapping value (tags, emit).
type metaKey struct {
	obj any
	key string
	idx int
}

// keyInfo is where a key and its value stand in the file, and whether the value could
// not be decoded (so validation does not report follow-on errors about it).
type keyInfo struct {
	key, val Pos
	bad      bool
}

// meta records key positions while decoding, for validation messages that point at
// the offending key. A nil meta (a rule built in code) knows no positions.
type meta map[metaKey]keyInfo

func (m meta) get(obj any, key string) keyInfo { return m[metaKey{obj: obj, key: key}] }

// decoder turns a yaml.Node tree into a Rule, collecting every problem it finds.
type decoder struct {
	file  string
	lines []string // the source, for block scalar positions
	errs  ErrorList
	meta  meta
}

// field is one key: value pair of a mapping.
type field struct{ key, val *yaml.Node }

func nodePos(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.Add(d.file, nodePos(n), format, args...)
}

// markBad records that the value of key on obj was rejected.
func (d *decoder) markBad(obj any, key string) {
	k := metaKey{obj: obj, key: key}
	info := d.meta[k]
	info.bad = true
	d.meta[k] = info
}

// kindName describes a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value)"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an alias"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// fields checks that n is a mapping whose keys are all in known, reporting unknown and
// duplicate keys, and records each known key's position in d.meta under obj. what names
// the mapping in messages ("step", "rule"). It returns nil if n is not a mapping.
func (d *decoder) fields(n *yaml.Node, what string, obj any, known []string) map[string]field {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "a %s must be a mapping of keys (key: value), not %s", what, kindName(n))
		return nil
	}
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "keys in a %s must be plain words, not %s", what, kindName(k))
			continue
		}
		if prev, dup := out[k.Value]; dup {
			d.errorf(k, "duplicate key '%s' in %s (first on line %d)", k.Value, what, prev.key.Line)
			continue
		}
		if !slices.Contains(known, k.Value) {
			d.errorf(k, "%s", unknownKey(k.Value, what, known))
			continue
		}
		out[k.Value] = field{key: k, val: v}
		d.meta[metaKey{obj: obj, key: k.Value}] = keyInfo{key: nodePos(k), val: nodePos(v)}
	}
	return out
}

func unknownKey(key, what string, known []string) string {
	if key == "<<" {
		return "YAML merge keys (<<) are not supported in rule files"
	}
	if key == "count" && (what == "rule" || what == "step") {
		return countHint(what)
	}
	if s := suggest(key, known); s != "" {
		return fmt.Sprintf("unknown key '%s' in %s; did you mean '%s'?", key, what, s)
	}
	sorted := slices.Sorted(slices.Values(known))
	return fmt.Sprintf("unknown key '%s' in %s (known keys: %s)", key, what, strings.Join(sorted, ", "))
}

// text returns a scalar value as a string; ok is false when f is absent, null or not
// a scalar (which is reported).
func (d *decoder) text(f field, obj any, what string) (string, bool) {
	if !d.holds(f, yaml.ScalarNode, what, obj) {
		return "", false
	}
	return f.val.Value, true
}

// holds reports whether f holds a value of kind k. An absent or null value does not; a
// value of another kind is reported ('KEY' must be what, not …) and, unless obj is nil,
// marked bad (markBad) so that validation does not report it again.
func (d *decoder) holds(f field, k yaml.Kind, what string, obj any) bool {
	if f.val == nil || isNull(f.val) {
		return false
	}
	if f.val.Kind != k {
		d.errorf(f.val, "'%s' must be %s, not %s", f.key.Value, what, kindName(f.val))
		if obj != nil {
			d.markBad(obj, f.key.Value)
		}
		return false
	}
	return true
}

// boolean decodes true or false.
func (d *decoder) boolean(f field, obj any) bool {
	s, ok := d.text(f, obj, "true or false")
	if !ok {
		return false
	}
	switch {
	case f.val.Tag == "!!bool" && strings.EqualFold(s, "true"):
		return true
	case f.val.Tag == "!!bool" && strings.EqualFold(s, "false"):
		return false
	}
	d.errorf(f.val, "'%s' must be true or false, not %s", f.key.Value, kindName(f.val))
	d.markBad(obj, f.key.Value)
	return false
}

// duration decodes a duration in milliseconds (0 when absent or bad).
func (d *decoder) duration(f field, obj any) int64 {
	s, ok := d.text(f, obj, "a duration (e.g. 30s, 10m, 2d)")
	if !ok {
		return 0
	}
	ms, err := ParseDuration(strings.TrimSpace(s))
	if err != nil {
		d.errorf(f.val, "bad '%s': %v", f.key.Value, err)
		d.markBad(obj, f.key.Value)
		return 0
	}
	return ms
}

// word decodes one of a fixed set of words (with aliases), suggesting a close one.
func (d *decoder) word(f field, obj any, noun string, words map[string]int, canonical []string) (int, bool) {
	s, ok := d.text(f, obj, "one of "+strings.Join(canonical, ", "))
	if !ok {
		return 0, false
	}
	if v, ok := words[strings.TrimSpace(s)]; ok {
		return v, true
	}
	msg := fmt.Sprintf("unknown %s '%s'", noun, s)
	if sug := suggest(s, slices.Sorted(maps.Keys(words))); sug != "" {
		msg += fmt.Sprintf("; did you mean '%s'?", sug)
	}
	d.errorf(f.val, "%s (use %s)", msg, strings.Join(canonical, ", "))
	d.markBad(obj, f.key.Value)
	return 0, false
}

// countHint answers `count:`, which analysts coming from other rule engines write for
// "more than N events in a window": a count aggregate read by a one-step pattern says it,
// with the rearm policy for one alert per window (README, "Velocity aggregates").
func countHint(what string) string {
	return "unknown key 'count' in " + what + ": for \"more than N matching events within a window\" declare a count " +
		"aggregate and compare it in a one-step pattern: `aggregates: [{name: n_1h, function: count, where: <which events>, window: 1h}]`, " +
		"`pattern: [{name: e, where: <which events> && agg.n_1h > N}]`, and `rearm: once_per_window` for one alert per window " +
		"(testdata/fraud/auths-per-hour.yaml); `times: N` instead alerts once per run of N events, so one burst alerts several times"
}
