package rules

import (
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// checkKey checks a rule's `key:` against the schema: the field must be declared, must
// not be the event time, and must hold identifiers (a string, an int or an untyped
// field), not measurements.
func checkKey(s *event.Schema, r *patterns.Rule) patterns.ErrorList {
	var errs patterns.ErrorList
	key := r.KeyField()
	i, ok := s.Index(key)
	switch {
	case !ok:
		hint := ""
		if best, d := closestField(s, key); best != "" && d <= max(1, len(key)/3) {
			hint = "; did you mean " + best + "?"
		}
		errs.Add(r.Source, r.KeyPos, "key: the events have no field %q%s (fields: %s)", key, hint, fieldList(s))
	case key == s.TimeField:
		errs.Add(r.Source, r.KeyPos, "key: %q is the event-time field; a rule is keyed by an entity (card, device, account, merchant, ip)", key)
	default:
		switch t := s.Fields[i].Type; t {
		case event.TypeString, event.TypeInt, event.TypeAny:
		default:
			errs.Add(r.Source, r.KeyPos, "key: field %q is a %s; a key must be a string or int field that names an entity", key, t)
		}
	}
	return errs
}

func closestField(s *event.Schema, name string) (string, int) {
	best, bestD := "", -1
	for _, f := range s.FieldNames() {
		if d := patterns.EditDistance(name, f); bestD < 0 || d < bestD {
			best, bestD = f, d
		}
	}
	return best, bestD
}

func fieldList(s *event.Schema) string {
	out := ""
	for i, n := range s.FieldNames() {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
