package patterns

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Outcome is what an authoriser is told to do with an event a rule's alert covers.
type Outcome uint8

// Outcomes, from the mildest: a combined decision takes the strongest outcome of the
// alerts an event completed.
const (
	OutcomeAllow  Outcome = iota // the event may go ahead
	OutcomeReview                // hold it for an analyst
	OutcomeBlock                 // refuse it
)

var outcomeNames = [...]string{OutcomeAllow: "allow", OutcomeReview: "review", OutcomeBlock: "block"}

var outcomeWords = map[string]int{"allow": int(OutcomeAllow), "review": int(OutcomeReview), "block": int(OutcomeBlock)}

// String returns the outcome's name (allow, review, block).
func (o Outcome) String() string { return enumName(outcomeNames[:], o) }

// ParseOutcome reads an outcome's name.
func ParseOutcome(s string) (Outcome, bool) {
	v, ok := outcomeWords[s]
	return Outcome(v), ok
}

// MaxScore is the largest score a decision may carry.
const MaxScore = 1000

// Decision is what a rule's alert contributes to an inline decision (POST /v1/decide):
// an outcome and a score added to the other alerts' scores.
type Decision struct {
	Outcome Outcome
	Score   int
}

// cooldown decodes "cooldown: 1h": after an alert, the rule's next alerts for the same
// key within that much event time are suppressed.
func (d *decoder) cooldown(f field, r *Rule) {
	r.CooldownMs = d.duration(f, r)
}

// decision decodes "decision: {outcome: block, score: 90}".
func (d *decoder) decision(f field, r *Rule) {
	if f.val == nil || isNull(f.val) {
		return
	}
	dec := &Decision{}
	m := d.fields(f.val, "decision", dec, []string{"outcome", "score"})
	if m == nil {
		d.markBad(r, "decision")
		return
	}
	if _, ok := m["outcome"]; !ok {
		d.errorf(f.val, "'decision' needs an 'outcome' (allow, review or block), e.g. {outcome: block, score: 90}")
		d.markBad(r, "decision")
	} else if o, ok := d.word(m["outcome"], dec, "outcome", outcomeWords, outcomeNames[:]); ok {
		dec.Outcome = Outcome(o)
	} else {
		d.markBad(r, "decision")
	}
	if s, ok := m["score"]; ok && !isNull(s.val) {
		n, err := strconv.Atoi(strings.TrimSpace(s.val.Value))
		if s.val.Kind != yaml.ScalarNode || err != nil || n < 0 || n > MaxScore {
			d.errorf(s.val, "'score' must be a whole number from 0 to %d", MaxScore)
			d.markBad(r, "decision")
		} else {
			dec.Score = n
		}
	}
	r.Decision = dec
}

// decide prints the cooldown and decision keys of r.
func (w *printer) decide(r *Rule) {
	if r.CooldownMs != 0 {
		w.line(0, "cooldown: "+FormatDuration(r.CooldownMs))
	}
	if dec := r.Decision; dec != nil {
		s := "decision: {outcome: " + dec.Outcome.String()
		if dec.Score != 0 {
			s += ", score: " + strconv.Itoa(dec.Score)
		}
		w.line(0, s+"}")
	}
}
