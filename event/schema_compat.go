package event

import (
	"fmt"
	"strings"
)

// SchemaChangeError lists why a new schema cannot replace the running one live. Each
// problem is one sentence an analyst can act on.
type SchemaChangeError struct {
	Problems []string
}

func (e *SchemaChangeError) Error() string {
	if len(e.Problems) == 1 {
		return "incompatible schema change: " + e.Problems[0]
	}
	return fmt.Sprintf("incompatible schema change (%d problems):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Compatible reports whether next can replace old while cepd runs: events decoded under
// old (held in partial matches, windows and checkpoints) must read the same under next,
// with next's new fields absent. That holds when next keeps old's fields as a prefix (same
// names, types and positions; a required field may become optional, not the other way),
// every field after them is optional, and the key, time and id fields are the same. The
// schema's name may change. It returns nil or a *SchemaChangeError naming every problem.
//
// Keeping the positions is what lets the running state stay as it is: an event holds its
// values by field position, a compiled rule reads a field by position, and a checkpoint
// written under old is read under next by position (state.DecodeKeyState).
func Compatible(old, next *Schema) error {
	var probs []string
	for _, p := range []struct{ what, o, n string }{
		{"key", old.KeyField, next.KeyField},
		{"time", old.TimeField, next.TimeField},
		{"id", old.IDField, next.IDField},
	} {
		if p.o != p.n {
			probs = append(probs, fmt.Sprintf("the %s field changes from %q to %q (the running state is keyed and ordered by it; restart cepd with a new state store for that)", p.what, p.o, p.n))
		}
	}
	for i, of := range old.Fields {
		j, ok := next.Index(of.Name)
		switch {
		case !ok:
			probs = append(probs, fmt.Sprintf("field %q is removed or renamed (events already held have it)", of.Name))
			continue
		case next.Fields[j].Type != of.Type:
			probs = append(probs, fmt.Sprintf("field %q changes type from %s to %s", of.Name, of.Type, next.Fields[j].Type))
		case of.Optional && !next.Fields[j].Optional:
			probs = append(probs, fmt.Sprintf("field %q changes from optional to required (events already held may lack it)", of.Name))
		}
		if j != i {
			probs = append(probs, fmt.Sprintf("field %q moves from position %d to %d: keep the existing fields in their order and add new ones after %q", of.Name, i+1, j+1, old.Fields[len(old.Fields)-1].Name))
		}
	}
	for _, nf := range next.Fields[min(len(old.Fields), len(next.Fields)):] {
		if _, had := old.Index(nf.Name); had {
			continue // reported above as moved
		}
		if !nf.Optional {
			probs = append(probs, fmt.Sprintf("new field %q must be optional (write %s?): events already held do not have it", nf.Name, nf.Type))
		}
	}
	if len(probs) > 0 {
		return &SchemaChangeError{Problems: probs}
	}
	return nil
}

// Equal reports whether s and o describe the same events: the same fields (names, types,
// optional flags, in order), key, time and id fields, and name.
func (s *Schema) Equal(o *Schema) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil {
		return false
	}
	return s.String() == o.String()
}
