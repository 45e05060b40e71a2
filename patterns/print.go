package patterns

import (
	"strconv"
	"strings"
)

// Names of enum values as the YAML format writes them.
var (
	skipNames       = [...]string{NoSkip: "no_skip", SkipToNext: "to_next", SkipPastLastEvent: "past_last_event", SkipToFirst: "to_first", SkipToLast: "to_last"}
	releaseNames    = [...]string{AtCompletion: "at_completion", InStartOrder: "in_start_order"}
	contiguityNames = [...]string{ContiguityDefault: "", Strict: "strict", Relaxed: "relaxed", Any: "any"}
	negationNames   = [...]string{NotNegated: "", NotNext: "next", NotFollowedBy: "followed_by"}
	withinNames     = [...]string{FirstAndLast: "first_and_last", PreviousAndCurrent: "previous_and_current"}
)

// enumName returns names[i], or the number when i is out of range (an invalid value).
func enumName[T ~uint8](names []string, i T) string {
	if int(i) < len(names) {
		return names[i]
	}
	return strconv.Itoa(int(i))
}

// String spells the skip strategy as a rule file does: "past_last_event", "to_first:STEP".
func (s Skip) String() string {
	name := enumName(skipNames[:], s.Kind)
	if s.Step != "" {
		name += ":" + s.Step
	}
	return name
}

// Format prints r in canonical YAML: keys in a fixed order, defaults left out, aliases
// spelled canonically, durations as FormatDuration prints them, texts plain when YAML
// allows, else single-quoted, multi-line expressions as | blocks. Parsing the result
// gives r back (positions aside), and formatting that again gives the same bytes.
// Format normalises spelling, never structure: an explicit "times: 1" or
// "contiguity: relaxed" stays. Positions and Source are not printed.
func Format(r *Rule) []byte {
	w := &printer{}
	w.text(0, "id", r.ID, false)
	if r.Name != "" && r.Name != r.ID {
		w.text(0, "name", r.Name, false)
	}
	if r.Description != "" {
		if folded, ok := foldedBlock(r.Description, 2, len("description")); ok {
			w.line(0, "description: "+folded)
		} else {
			w.text(0, "description", r.Description, true)
		}
	}
	if r.Severity != "" && r.Severity != DefaultSeverity {
		w.text(0, "severity", r.Severity, false)
	}
	if r.Owner != "" {
		w.text(0, "owner", r.Owner, false)
	}
	if len(r.Tags) > 0 {
		tags := make([]string, len(r.Tags))
		for i, t := range r.Tags {
			tags[i] = scalar(t, inFlow)
		}
		w.line(0, "tags: ["+strings.Join(tags, ", ")+"]")
	}
	if r.Key != "" {
		w.text(0, "key", r.Key, false)
	}
	p := &r.Pattern
	switch {
	case p.WithinType != FirstAndLast:
		w.line(0, "within: {duration: "+FormatDuration(p.WithinMs)+", type: "+enumName(withinNames[:], p.WithinType)+"}")
	case p.WithinMs != 0:
		w.line(0, "within: "+FormatDuration(p.WithinMs))
	}
	if p.Skip.Kind != NoSkip || p.Skip.Step != "" {
		w.text(0, "skip", p.Skip.String(), false)
	}
	if p.Release != AtCompletion {
		w.line(0, "release: "+enumName(releaseNames[:], p.Release))
	}
	w.rearm(r.Rearm)
	if r.Timeouts {
		w.line(0, "timeouts: true")
	}
	w.decide(r)
	w.aggregates(r.Aggregates)
	w.line(0, "pattern:")
	w.steps(0, p.Steps)
	if len(r.Emit) > 0 {
		w.line(0, "emit:")
		for _, e := range r.Emit {
			w.text(2, scalar(e.Name, asKey), e.Expr, true)
		}
	}
	return []byte(w.b.String())
}

// printer accumulates YAML lines.
type printer struct{ b strings.Builder }

func (w *printer) line(indent int, s string) {
	w.b.WriteString(strings.Repeat(" ", indent))
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

// text writes key: s, as a | block when multi-line and block is allowed. key must
// already be a valid YAML key.
func (w *printer) text(indent int, key, s string, block bool) {
	if block {
		if lit, ok := literalBlock(s, indent+2); ok {
			w.line(indent, key+": "+lit)
			return
		}
	}
	w.line(indent, key+": "+scalar(s, inBlock))
}

// steps writes a list of steps, its dashes at column indent+2 (indent+1 in YAML terms).
func (w *printer) steps(indent int, steps []*Step) {
	for _, s := range steps {
		in := indent + 4 // the keys after the first
		w.text(indent+2, "- name", s.Name, false)
		if s.Contiguity != ContiguityDefault {
			w.line(in, "contiguity: "+enumName(contiguityNames[:], s.Contiguity))
		}
		if s.Negation != NotNegated {
			w.line(in, "not: "+enumName(negationNames[:], s.Negation))
		}
		if s.Where != "" {
			w.text(in, "where", s.Where, true)
		}
		if q := s.Quantifier; q != nil {
			w.quantifier(in, q)
		}
		if s.Until != "" {
			w.text(in, "until", s.Until, true)
		}
		if s.WithinMs != 0 {
			w.line(in, "gap: "+FormatDuration(s.WithinMs))
		}
		if s.Group != nil {
			if len(s.Group) == 0 {
				w.line(in, "steps: []")
				continue
			}
			w.line(in, "steps:")
			w.steps(in, s.Group)
		}
	}
}

func (w *printer) quantifier(indent int, q *Quantifier) {
	switch {
	case q.Min == 1 && q.Max == 1 && q.Optional:
		// optional: true alone says it.
	case q.Max < 0:
		w.line(indent, "times: "+strconv.Itoa(q.Min)+"+")
	case q.Min == q.Max:
		w.line(indent, "times: "+strconv.Itoa(q.Min))
	default:
		w.line(indent, "times: "+strconv.Itoa(q.Min)+".."+strconv.Itoa(q.Max))
	}
	if q.Optional {
		w.line(indent, "optional: true")
	}
	if q.Greedy {
		w.line(indent, "greedy: true")
	}
	if q.Inner != ContiguityDefault {
		w.line(indent, "repeat: "+enumName(contiguityNames[:], q.Inner))
	}
	if q.WindowMs != 0 {
		w.line(indent, "repeat_within: "+FormatDuration(q.WindowMs))
	}
}
