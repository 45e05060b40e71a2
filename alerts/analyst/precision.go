package analyst

import (
	"slices"
	"time"
)

// Precision is a rule's precision from feedback: of its alerts analysts reviewed, the
// share confirmed as fraud.
type Precision struct {
	RuleID        string  `json:"rule_id"`
	Fraud         int64   `json:"fraud"`
	FalsePositive int64   `json:"false_positive"`
	Precision     float64 `json:"precision"` // Fraud / (Fraud + FalsePositive)
	// Days splits the counts by the UTC day of the alerts' last event, oldest first.
	Days []DayPrecision `json:"days,omitempty"`
}

// DayPrecision is one day's part of a Precision.
type DayPrecision struct {
	Day           string  `json:"day"` // YYYY-MM-DD
	Fraud         int64   `json:"fraud"`
	FalsePositive int64   `json:"false_positive"`
	Precision     float64 `json:"precision"`
}

// Precision returns per rule (sorted by id; only rule when not "") the precision of the
// latest feedback on each alert, with its split by day when days.
func (b *Book) Precision(rule string, days bool) []Precision {
	type counts struct{ fraud, fp int64 }
	byRule := map[string]*counts{}
	byDay := map[string]map[string]*counts{}
	b.mu.RLock()
	for _, f := range b.fb {
		if rule != "" && f.RuleID != rule {
			continue
		}
		c := byRule[f.RuleID]
		if c == nil {
			c = &counts{}
			byRule[f.RuleID] = c
			byDay[f.RuleID] = map[string]*counts{}
		}
		day := f.AlertTime.UTC().Format(time.DateOnly)
		d := byDay[f.RuleID][day]
		if d == nil {
			d = &counts{}
			byDay[f.RuleID][day] = d
		}
		if f.Label == LabelFraud {
			c.fraud++
			d.fraud++
		} else {
			c.fp++
			d.fp++
		}
	}
	b.mu.RUnlock()
	out := make([]Precision, 0, len(byRule))
	for id, c := range byRule {
		p := Precision{RuleID: id, Fraud: c.fraud, FalsePositive: c.fp, Precision: share(c.fraud, c.fp)}
		if days {
			for day, d := range byDay[id] {
				p.Days = append(p.Days, DayPrecision{Day: day, Fraud: d.fraud, FalsePositive: d.fp, Precision: share(d.fraud, d.fp)})
			}
			slices.SortFunc(p.Days, func(x, y DayPrecision) int { return cmpStrings(x.Day, y.Day) })
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(x, y Precision) int { return cmpStrings(x.RuleID, y.RuleID) })
	return out
}

func share(fraud, fp int64) float64 {
	if fraud+fp == 0 {
		return 0
	}
	return float64(fraud) / float64(fraud+fp)
}
