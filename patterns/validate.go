package patterns

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Limits on the size of a rule.
const (
	MaxSteps     = 64 // steps in a pattern, groups and their steps included
	MaxDepth     = 8  // groups nested in groups
	MaxEmits     = 64 // emit entries
	MaxIDLength  = 64
	MaxNameLen   = 64 // step and emit names
	maxTagLength = 64
)

// severities are the allowed rule severities, least severe first.
var severities = []string{"low", "medium", "high", "critical"}

// Validate checks a rule's meaning: unique step names, where negations, quantifiers,
// windows and skip strategies may stand, limits. It does not look at CEL. Parse calls
// it; call it on rules built in code. Positions in its errors are the rule's own (zero
// when it was not parsed). Step names need only be unique, non-empty and printable
// here: that they are identifiers is a rule of the YAML format, which Parse checks.
func Validate(r *Rule) ErrorList {
	return validate(r, nil, false)
}

// validator collects the problems of one rule.
type validator struct {
	r     *Rule
	meta  meta
	ident bool // step names must be identifiers
	errs  ErrorList
	seen  map[string]*Step // step names so far
	count int              // steps so far
}

func validate(r *Rule, m meta, identNames bool) ErrorList {
	v := &validator{r: r, meta: m, ident: identNames, seen: map[string]*Step{}}
	v.header()
	v.pattern()
	v.aggregates()
	v.emits()
	return v.errs
}

func (v *validator) errorf(pos Pos, format string, args ...any) {
	v.errs.Add(v.r.Source, pos, format, args...)
}

// key is where key of obj was written, else fallback.
func (v *validator) key(obj any, key string, fallback Pos) Pos {
	if p := v.meta.get(obj, key).key; p.Line > 0 {
		return p
	}
	return fallback
}

// val is where the value of key of obj was written, else fallback.
func (v *validator) val(obj any, key string, fallback Pos) Pos {
	if p := v.meta.get(obj, key).val; p.Line > 0 {
		return p
	}
	return fallback
}

func (v *validator) bad(obj any, key string) bool { return v.meta.get(obj, key).bad }

func (v *validator) header() {
	r := v.r
	switch {
	case r.ID == "" && !v.bad(r, "id"):
		v.errorf(v.key(r, "", Pos{}), "missing 'id': every rule needs one, e.g. id: card-testing")
	case r.ID != "" && !ValidID(r.ID):
		v.errorf(v.val(r, "id", Pos{}), "invalid id '%s': use lower-case letters, digits, '-' and '_', "+
			"starting with a letter or digit, at most %d characters", r.ID, MaxIDLength)
	}
	if r.Severity != "" && !slices.Contains(severities, r.Severity) {
		v.errorf(v.val(r, "severity", Pos{}), "unknown severity '%s'%s (use %s)", r.Severity,
			didYouMean(r.Severity, severities), strings.Join(severities, ", "))
	}
	for i, t := range r.Tags {
		if t == "" || len(t) > maxTagLength || !printable(t) {
			at := v.meta[metaKey{obj: r, key: "tags", idx: i + 1}].val
			v.errorf(orPos(at, v.val(r, "tags", Pos{})), "tag %d ('%s') must be a word of at most %d characters", i+1, t, maxTagLength)
		}
	}
}

// ValidID reports whether id is [a-z0-9][a-z0-9_-]* and at most MaxIDLength long: what
// may name a rule (and its file) or a reference dataset, decided here alone.
func ValidID(id string) bool {
	if len(id) > MaxIDLength {
		return false
	}
	for i, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')
		if !ok {
			return false
		}
	}
	return id != ""
}

// isIdent reports whether s is [A-Za-z_][A-Za-z0-9_]*.
func isIdent(s string) bool {
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return s != ""
}

func printable(s string) bool {
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf("; did you mean '%s'?", s)
	}
	return ""
}

func (v *validator) emits() {
	r := v.r
	v.atMost("emit", "emit values", len(r.Emit), MaxEmits)
	seen := map[string]Pos{}
	for i, e := range r.Emit {
		at := v.meta[metaKey{obj: r, key: "emit", idx: i + 1}]
		if at.key.Line == 0 {
			at.key, at.val = e.Src.Pos, e.Src.Pos
		}
		first, dup := seen[e.Name]
		switch {
		case !isIdent(e.Name) || len(e.Name) > MaxNameLen:
			v.errorf(at.key, "emit name '%s' is not an identifier: use letters, digits and '_', "+
				"not starting with a digit", e.Name)
		case dup:
			v.errorf(at.key, "duplicate emit name '%s'%s", e.Name, firstOn(first))
		default:
			seen[e.Name] = at.key
		}
		if strings.TrimSpace(e.Expr) == "" && !at.bad {
			v.errorf(at.key, "emit '%s' has no expression", e.Name)
		}
	}
}

// atMost reports the rule's list under key, of n items (what: "emit values"), when it
// holds more than limit.
func (v *validator) atMost(key, what string, n, limit int) {
	if n > limit {
		v.errorf(v.key(v.r, key, Pos{}), "too many %s (%d): at most %d", what, n, limit)
	}
}

// firstOn says where something was first written, when known.
func firstOn(p Pos) string {
	if p.Line > 0 {
		return fmt.Sprintf(" (first on line %d)", p.Line)
	}
	return ""
}
