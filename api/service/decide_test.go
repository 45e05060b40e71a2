package service

import (
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/patterns"
)

// TestAnswerAnalystSuppressionHoldsCooledAlerts: an analyst's suppression of a key keeps
// every active alert of the key from counting, a rule's cooled one too (a cooldown alone
// does not stop an alert from counting).
func TestAnswerAnalystSuppressionHoldsCooledAlerts(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	sup := alerts.NewSuppressions(func() time.Time { return now })
	sup.Set([]alerts.Suppression{{ID: "s1", Key: "held", Until: now.Add(time.Hour), Reason: "known customer", Author: "ann"}})
	block := &patterns.Decision{Outcome: patterns.OutcomeBlock, Score: 90}
	cooled := func(key string) engine.Completed {
		return engine.Completed{Decision: block, Alert: &alerts.Alert{Kind: alerts.KindMatch, RuleID: "big-auth", Mode: alerts.ModeActive, Key: key,
			Suppressed: &alerts.Suppressed{By: alerts.SuppressedByCooldown, Until: now.Add(time.Minute)}}}
	}
	for _, tc := range []struct {
		key     string
		counted bool
		by      string
	}{{"free", true, alerts.SuppressedByCooldown}, {"held", false, alerts.SuppressedByAnalyst}} {
		out := Answer(engine.Decided{Outcome: engine.OutcomeMatched, Alerts: []engine.Completed{cooled(tc.key)}}, sup)
		got := out.GetAlerts()[0]
		if got.GetCounted() != tc.counted || got.GetAlert().GetSuppressed().GetBy() != tc.by {
			t.Errorf("key %s: a cooled alert counted %v, marked %q; want counted %v, marked %q", tc.key, got.GetCounted(), got.GetAlert().GetSuppressed().GetBy(), tc.counted, tc.by)
		}
		want := patterns.OutcomeAllow.String()
		if tc.counted {
			want = patterns.OutcomeBlock.String()
		}
		if out.GetOutcome() != want {
			t.Errorf("key %s: outcome %s, want %s", tc.key, out.GetOutcome(), want)
		}
	}
}
