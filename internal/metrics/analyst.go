package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	dCooled    = desc("rule_alerts_cooled_total", "Alerts a rule's cooldown suppressed (not delivered), by rule; rules with a cooldown only.", "rule")
	dFeedback  = desc("rule_feedback_alerts", "Alerts analysts marked, by rule and label (fraud, false_positive; the latest verdict per alert).", "rule", "label")
	dPrecision = desc("rule_feedback_precision", "Share of a rule's alerts marked by analysts that they confirmed as fraud.", "rule")
)

// RuleFeedback is one rule's feedback counts (the analysts' verdicts on its alerts).
type RuleFeedback struct {
	Rule                 string
	Fraud, FalsePositive int64
}

// SetFeedback makes the metrics read the analysts' feedback per rule through fn.
func (m *Metrics) SetFeedback(fn func() []RuleFeedback) {
	m.mu.Lock()
	m.feedback = fn
	m.mu.Unlock()
}

// decideCollector reads, at scrape time, what cooldowns suppressed and what analysts said.
type decideCollector struct{ m *Metrics }

func (c *decideCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dCooled
	ch <- dFeedback
	ch <- dPrecision
}

func (c *decideCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	if eng := m.engine(); eng != nil {
		rs := eng.Rules()
		for i, r := range rs.Rules {
			if r.Rule.CooldownMs > 0 {
				counter(ch, dCooled, float64(rs.Cooled(i)), r.Rule.ID)
			}
		}
	}
	m.mu.Lock()
	fn := m.feedback
	m.mu.Unlock()
	if fn == nil {
		return
	}
	for _, f := range fn() {
		gauge(ch, dFeedback, float64(f.Fraud), f.Rule, "fraud")
		gauge(ch, dFeedback, float64(f.FalsePositive), f.Rule, "false_positive")
		if n := f.Fraud + f.FalsePositive; n > 0 {
			gauge(ch, dPrecision, float64(f.Fraud)/float64(n), f.Rule)
		}
	}
}
